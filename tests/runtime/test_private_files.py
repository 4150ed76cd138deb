"""make_private at every start: the data dir's files lose group/other permissions, and nothing
the owner had (found by review: it turned a 0755 alert_command script kept in the data dir into
0600, so every alert of that run failed with "Permission denied" and the next start refused the
config, "program not found or not executable")."""

from __future__ import annotations

import os
import stat
import subprocess

import pytest

from runtime.private_files import make_private


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_script_in_the_data_dir_stays_runnable_by_its_owner(tmp_path):
    data = tmp_path / "data"
    (data / "hooks").mkdir(parents=True)
    script = data / "hooks" / "alert.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o755)
    log = data / "bot.log"
    log.write_text("x\n")
    os.chmod(log, 0o644)
    os.chmod(data / "hooks", 0o755)
    assert make_private(data) == []
    assert _mode(script) == 0o700
    assert _mode(log) == 0o600
    assert _mode(data / "hooks") == 0o700 and _mode(data) == 0o700
    assert subprocess.run([str(script)], timeout=30).returncode == 0


def test_a_database_outside_the_data_dir_is_made_private_too(tmp_path):
    """Found by review: only the data dir's files were tightened. A database at an absolute
    storage.path left 0644 (made before, or copied there) stayed readable by every local user
    while the bot traded in it, and SQLite gives its -wal and -shm the same mode."""
    import sys
    from pathlib import Path

    from storage.repository import Repository

    root = Path(__file__).resolve().parents[2]
    outside = tmp_path / "outside"
    db = outside / "bot.sqlite"
    Repository(db).close()
    os.chmod(outside, 0o755)
    os.chmod(db, 0o644)
    config = tmp_path / "config.toml"
    config.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n[logging]\nconsole = false\n'
                      f'[storage]\npath = "{db}"\n')
    r = subprocess.run([sys.executable, str(root / "bot.py"), "run", "--duration", "0.5",
                        "--config", str(config), "--data-dir", str(tmp_path / "data")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert _mode(db) == 0o600
    assert _mode(outside) == 0o755  # the owner's folder is left as it is


def test_a_data_dir_behind_a_symlink_is_made_0700_itself(tmp_path):
    """Found by review: a data dir reached through a symlink (`data -> /mnt/big/bot`, moved to
    a bigger disk) had its files made private, but the folder itself stayed 0755 (a symlink was
    skipped as "not ours"): every local user could list it. `bot.py run` as a subprocess."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    target = tmp_path / "big" / "bot"
    target.mkdir(parents=True)
    os.chmod(tmp_path / "big", 0o755)
    os.chmod(target, 0o755)
    (tmp_path / "data").symlink_to(target, target_is_directory=True)
    config = tmp_path / "config.toml"
    config.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n[logging]\nconsole = false\n'
                      '[dashboard]\nenabled = false\n')
    r = subprocess.run([sys.executable, str(root / "bot.py"), "run", "--duration", "0.5",
                        "--config", str(config), "--data-dir", str(tmp_path / "data")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert (target / "bot.sqlite").is_file()
    assert _mode(target) == 0o700
    assert _mode(tmp_path / "big") == 0o755  # the owner's folder above it is left as it is


def test_a_symlink_to_the_home_folder_is_refused_as_the_home_folder_is(tmp_path):
    """The refusal of a data dir that is the home folder (making it private would change the
    user's own files) compared the path as written: `data -> ~` passed it, and the start made
    every file in the home folder 0600. `bot.py run` as a subprocess, $HOME a folder here."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    home = tmp_path / "home"
    home.mkdir()
    notes = home / "notes.txt"
    notes.write_text("mine\n")
    os.chmod(notes, 0o644)
    (tmp_path / "data").symlink_to(home, target_is_directory=True)
    config = tmp_path / "config.toml"
    config.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n[logging]\nconsole = false\n'
                      '[dashboard]\nenabled = false\n')
    r = subprocess.run([sys.executable, str(root / "bot.py"), "run", "--duration", "0.5",
                        "--config", str(config), "--data-dir", str(tmp_path / "data")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "HOME": str(home)})
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("bot.py: error: ") and "bot.data_dir" in r.stderr, r.stderr
    assert "is your home folder" in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
    assert _mode(notes) == 0o644


def test_a_cluster_nodes_databases_in_the_shared_dir_are_made_private(tmp_path):
    """Found by review: a node made its data dir private but not the accounts' databases in
    `cluster.shared_dir`, so one copied there (or made by another tool) at 0644, with its -wal
    and -shm, stayed readable by every local user while the node traded in it; README says a
    database outside the data dir is made 0600. The node's own start step (make_node_private)."""
    from pathlib import Path

    from config.loader import load_settings
    from runtime.cluster_node import make_node_private

    shared = tmp_path / "shared"
    db = shared / "main" / "bot.sqlite"
    db.parent.mkdir(parents=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").write_text("")
        os.chmod(f"{db}{suffix}", 0o644)
    os.chmod(db.parent, 0o755)
    config = tmp_path / "config.toml"
    config.write_text('[bot]\nmode = "live"\n[exchange]\nid = "bybit"\n'
                      '[symbols]\nlist = ["BTC/USDT:USDT"]\n[cluster]\nenabled = true\n'
                      'database_url = "postgresql://bot@127.0.0.1:1/bot"\n'
                      f'shared_dir = "{shared}"\n')
    assert make_node_private(load_settings(config), tmp_path / "data") == []
    assert [_mode(Path(f"{db}{s}")) for s in ("", "-wal", "-shm")] == [0o600] * 3
    assert _mode(db.parent) == 0o755 and _mode(tmp_path / "data") == 0o700


def test_a_data_dir_of_another_user_is_refused():
    """Found by review: a data dir owned by another user (`--data-dir /tmp/bot` that someone
    else had made, 0777) could not be made 0700; the start logged "cannot make private
    (Operation not permitted)" and traded on, with the database, logs and status in a folder
    whose owner may read, replace or delete them. The start is refused in one line naming the
    folder, before the bot writes a file into it. `bot.py run` as a subprocess, as `nobody`
    on a folder of root's (root itself makes such a folder 0700: a container's volume)."""
    import shutil
    import tempfile
    from pathlib import Path

    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 or setpriv is None:
        pytest.skip("a folder of another user and a run as another user need root and setpriv")
    root = Path(__file__).resolve().parents[2]
    with tempfile.TemporaryDirectory(prefix="bot-owner-") as name:  # pytest's are 0700
        os.chmod(name, 0o755)
        _run_as_nobody_on_roots_folder(Path(name), root, setpriv)


def _run_as_nobody_on_roots_folder(tmp_path, root, setpriv) -> None:  # noqa: ANN001
    import sys

    data = tmp_path / "data"
    data.mkdir()
    os.chmod(data, 0o777)
    config = tmp_path / "config.toml"
    config.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n[logging]\nconsole = false\n'
                      '[dashboard]\nenabled = false\n')
    os.chmod(config, 0o644)
    r = subprocess.run([setpriv, "--reuid=65534", "--regid=65534", "--clear-groups",
                        sys.executable, str(root / "bot.py"), "run", "--duration", "0.5",
                        "--config", str(config), "--data-dir", str(data)],
                       cwd="/", capture_output=True, text=True, timeout=120,
                       env={**os.environ, "HOME": str(tmp_path)})
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [
        f"bot.py: error: data dir {data}: belongs to another user (uid 0), who could read, "
        "replace or delete the bot's files: give the bot a folder of its own "
        "(bot.data_dir or --data-dir)"], r.stderr
    assert not [p for p in data.rglob("*") if not p.is_dir()]  # no database, log, lock


def test_files_the_bot_creates_after_its_start_are_private_too(tmp_path):
    """README: the bot's files are private to its user. make_private tightens what is in the
    data dir at start; what the run creates after it (bot.sqlite and its WAL, status.json, the
    logs, the locks) is private only through the umask it sets. Found by the runtime mutation
    audit: with the umask left at 022 no test failed (every test made its files before the
    start). A real bot runs from a shell whose umask is 022, on an empty data dir."""
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n[logging]\nconsole = false\n'
                      '[bot]\nstatus_interval_s = 0.2\n')
    r = subprocess.run([sys.executable, str(root / "bot.py"), "run", "--duration", "1",
                        "--config", str(config), "--data-dir", str(data)],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       preexec_fn=lambda: os.umask(0o022))
    assert r.returncode == 0, r.stderr
    made = [p for p in data.rglob("*")]
    assert data / "status.json" in made and data / "bot.sqlite" in made, made
    assert any(p.parent == data / "logs" for p in made), made
    loose = {str(p.relative_to(data)): oct(_mode(p)) for p in [data, *made]
             if _mode(p) & 0o077}
    assert loose == {}, loose
