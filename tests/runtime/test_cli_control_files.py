"""`bot.py signal` / `resume` write where the bot reads and keep what they create private: a
cluster node with cluster.shared_dir reads its controls from the account's database in the shared
dir (the CLI wrote them into data_dir/bot.sqlite, said "applied within a second" and the exit
never happened); a control queued before the first run created the data dir and the database
readable by every local user."""

from __future__ import annotations

import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BTC = "BTC/USDT:USDT"


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args, "--config", str(config)],
                          cwd=config.parent, capture_output=True, text=True, timeout=60)


def _controls(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT command, symbol FROM control").fetchall()


def test_a_cluster_nodes_control_goes_to_its_database_in_the_shared_dir(tmp_path):
    config = tmp_path / "cluster.toml"
    config.write_text(
        '[bot]\nmode = "live"\n[exchange]\nid = "bybit"\napi_url = "http://127.0.0.1:9"\n'
        f'[symbols]\nlist = ["{BTC}"]\n'
        '[cluster]\nenabled = true\nshared_dir = "shared"\n'
        'database_url = "postgresql://bot@127.0.0.1:9/bot"\n'
        f'[[accounts]]\nname = "alpha"\n[[accounts]]\nname = "beta"\n'
        'exchange.api_key_env = "BETA_KEY"\nexchange.api_secret_env = "BETA_SECRET"\n')
    for account in ("alpha", "beta"):
        r = _cli(config, "signal", BTC, "exit", "--account", account)
        assert r.returncode == 0, r.stderr
        # not "applied when the bot next starts": the node holding it may run elsewhere
        assert (f"the cluster node holding account {account} applies it within 1 s"
                in r.stdout), r.stdout
    shared = tmp_path / "data" / "shared"  # relative paths are in the data dir
    assert _controls(shared / "alpha" / "bot.sqlite") == [("signal", BTC)]
    assert _controls(shared / "beta" / "bot.sqlite") == [("signal", BTC)]
    assert {p.parent.name for p in (tmp_path / "data").rglob("*.sqlite")} == {"alpha", "beta"}
    assert not (tmp_path / "data" / "accounts").exists()


def test_a_control_queued_before_the_first_run_creates_private_files(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[symbols]\nlist = ["{BTC}"]\n')
    r = _cli(config, "signal", BTC, "long")
    assert r.returncode == 0 and "applied when the bot next starts" in r.stdout, r.stderr
    data = tmp_path / "data"
    made = [data, *data.rglob("*")]
    assert any(p.name == "bot.sqlite" for p in made)
    for path in made:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


def test_a_signal_into_a_data_dir_that_cannot_be_created_is_one_line_naming_it(tmp_path):
    # found by review: "unexpected NotADirectoryError in signal: [Errno 20] Not a directory"
    (tmp_path / "taken").write_text("a file where the data dir's parent should be\n")
    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\ndata_dir = "taken/data"\n[symbols]\nlist = ["{BTC}"]\n')
    r = _cli(config, "signal", BTC, "long")
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [
        f"bot.py: error: data dir {tmp_path / 'taken' / 'data'}: cannot create it: "
        f"{tmp_path / 'taken'} is not a directory (bot.data_dir or --data-dir); nothing queued"]


def test_a_control_into_a_file_that_is_not_a_database_is_one_line(tmp_path):
    # "file is not a database" is sqlite3.DatabaseError, not OperationalError: it escaped as
    # "unexpected DatabaseError in signal"
    config = tmp_path / "config.toml"
    config.write_text(f'[symbols]\nlist = ["{BTC}"]\n')
    db = tmp_path / "data" / "bot.sqlite"
    db.parent.mkdir(mode=0o700)
    db.write_bytes(b"this is no SQLite file, it is a text a tool left here\n" * 100)
    for args in (("signal", BTC, "long"), ("resume", BTC)):
        r = _cli(config, *args)
        lines = r.stderr.strip().splitlines()
        assert r.returncode != 0 and len(lines) == 1, r.stderr
        assert str(db) in lines[0] and "not a database" in lines[0], lines
        assert "unexpected" not in lines[0] and "Traceback" not in r.stderr


def test_a_signal_for_a_hedge_grid_account_is_refused_not_queued(tmp_path):
    """The hedge grid skips every external signal: `bot.py signal` said "queued; applied ..."
    and the actor then journaled SignalSkipped. Refused up front, nothing written."""
    config = tmp_path / "grid.toml"
    config.write_text((ROOT / "examples" / "hedge_grid.toml").read_text().replace(
        'data_dir = "../data/hedge_grid"', 'data_dir = "data"'))
    r = _cli(config, "signal", BTC, "exit")
    assert r.returncode == 2, r.stdout
    assert r.stderr.splitlines() == [
        "bot.py: error: signal: account grid's hedge grid trades its own levels and takes no "
        "signals (it would be journaled SignalSkipped); nothing queued"]
    assert not (tmp_path / "data").exists()


def test_with_data_dir_a_home_relative_storage_path_is_where_the_bot_keeps_it(tmp_path):
    """Found by review: with `--data-dir`, `signal` and `resume` joined `storage.path` to the
    data dir without expanding `~` (the bot does: Settings.resolve). A `~/...` database was
    then looked for under `<data dir>/~/`: `resume` of a quarantined symbol was refused as "not
    stopped", and `signal` created a new database there, said "queued" and the bot, reading
    its own file, never saw it."""
    import os

    from storage.repository import Repository

    home = tmp_path / "home"
    db = home / "state" / "bot.sqlite"
    repo = Repository(db)
    repo.quarantine(BTC, "unreadable state: test", correlation_id="c1")
    repo.close()
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    config = tmp_path / "config.toml"
    config.write_text(f'[symbols]\nlist = ["{BTC}"]\n[storage]\npath = "~/state/bot.sqlite"\n')
    env = {**os.environ, "HOME": str(home)}
    for args in (("resume", BTC), ("signal", BTC, "long")):
        r = subprocess.run([sys.executable, str(ROOT / "bot.py"), *args, "--config", str(config),
                            "--data-dir", str(data)], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and "queued" in r.stdout, r.stderr
    assert _controls(db) == [("resume", BTC), ("signal", BTC)]
    assert not (data / "~").exists()


def test_a_database_file_left_empty_by_a_failed_start_is_a_bot_that_never_ran(tmp_path):
    """Found by review: the bot locks each database file (creating it, 0 bytes) before it opens
    it; a start that failed in between (another account's refusal: its exchange unreachable)
    left it empty. `signal` then failed with "no such table: control" and `resume` with the
    same, where a data dir the bot never ran in queues the signal and refuses the resume."""
    config = tmp_path / "config.toml"
    config.write_text(f'[symbols]\nlist = ["{BTC}"]\n')
    db = tmp_path / "data" / "bot.sqlite"
    db.parent.mkdir(mode=0o700)
    db.touch(mode=0o600)
    r = _cli(config, "resume", BTC)
    assert r.returncode == 2 and "not stopped" in r.stderr and "nothing queued" in r.stderr, (
        r.stderr)
    r = _cli(config, "signal", BTC, "long")
    assert r.returncode == 0 and "applied when the bot next starts" in r.stdout, r.stderr
    assert _controls(db) == [("signal", BTC)]
