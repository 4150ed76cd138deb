"""Leftovers of the command line review, as users meet them (real `python bot.py` subprocesses,
temp data dirs and configs, real SQLite): a `--data-dir` typo, a manual signal queued while the
bot is stopped (it expires), `resume` of a symbol that is not stopped, a data dir or logs dir
the bot cannot create or write, `cluster` on a config without a cluster, the dashboard URL of a
stopped bot, and `--workers` above the number of accounts (its warning once)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from runtime.controls import ControlApplier
from runtime.emergency import OWED
from storage import control
from storage.models import ControlRow
from storage.repository import Repository
from supervision.child import ChildState
from supervision.resume_ticket import ResumeTicket
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def write_config(tmp_path: Path, **extra: str) -> Path:
    config = tmp_path / "config.toml"
    sections = {
        "bot": 'status_interval_s = 0.2\ndata_dir = "data"',
        "exchange": "poll_interval_s = 0.1",
        "paper": "latency_ms = 1\nstep_ms = 100",
        "logging": "console = false",
        "dashboard": "enabled = false",
        **extra,
    }
    text = f'[symbols]\nlist = ["{BTC}", "{ETH}"]\n'
    text += "".join(f"[{name}]\n{body}\n" for name, body in sections.items())
    config.write_text(text)
    return config


def bot(config: Path, *args: str, timeout: float = 90, **run: Any) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args, "--config", str(config)],
                          cwd=config.parent, capture_output=True, text=True, timeout=timeout, **run)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr[-2000:])
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert "unexpected" not in result.stderr, result.stderr
    return result.stderr.strip()


def controls(db: Path) -> list[tuple[int, str, str, dict[str, Any], str | None]]:
    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT id, command, symbol, args, result FROM control ORDER BY id")
        return [(i, c, s, json.loads(a), r) for i, c, s, a, r in rows.fetchall()]


# -- 2: a --data-dir typo; a signal queued while the bot is stopped expires ---------------------

@pytest.mark.parametrize("command", [["signal", BTC, "long"], ["resume", BTC]])
def test_a_data_dir_that_does_not_exist_is_refused_and_not_created(tmp_path, command):
    config = write_config(tmp_path)
    typo = tmp_path / "dta"
    line = one_error_line(bot(config, *command, "--data-dir", str(typo)))
    assert f"--data-dir: no bot data dir at {typo}" in line and "nothing queued" in line
    assert not typo.exists()
    # the config's own data dir may be named before the bot's first run
    own = bot(config, *command, "--data-dir", str(tmp_path / "data"))
    assert "no bot data dir" not in own.stderr
    assert own.returncode == 0 if command[0] == "signal" else "not stopped" in own.stderr


@pytest.mark.parametrize("command", [["signal", BTC, "long"], ["resume", BTC]])
def test_a_folder_that_holds_no_bot_is_refused_and_left_as_it_is(tmp_path, command):
    # found by review: `--data-dir` naming the folder above the data dir (it exists) got a new
    # bot.sqlite and "queued; applied when the bot next starts": no bot ever read it
    config = write_config(tmp_path)
    line = one_error_line(bot(config, *command, "--data-dir", str(tmp_path)))
    assert f"--data-dir: no bot data dir at {tmp_path} (it holds files but no bot's" in line
    assert "nothing queued" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]
    empty = tmp_path / "fresh"  # an empty folder made for a first run is fine
    empty.mkdir()
    made = bot(config, *command, "--data-dir", str(empty))
    assert made.returncode == 0 if command[0] == "signal" else "not stopped" in made.stderr


def test_a_signal_queued_while_stopped_expires_and_the_start_drops_it_journaled(tmp_path):
    config = write_config(tmp_path)
    data = tmp_path / "data"
    before = time.time()
    queued = bot(config, "signal", BTC, "long")
    assert queued.returncode == 0, queued.stderr
    assert "applied when the bot next starts" in queued.stdout
    assert f"expires {control.SIGNAL_TTL_S:g} s after it is queued" in queued.stdout
    [(stale, _, _, args, _)] = controls(data / "bot.sqlite")
    assert before + control.SIGNAL_TTL_S <= args["expires_at"] <= time.time() + control.SIGNAL_TTL_S
    fresh_at = bot(config, "signal", ETH, "short")
    assert fresh_at.returncode == 0, fresh_at.stderr
    with sqlite3.connect(data / "bot.sqlite") as con:  # the first one was queued days ago
        args["expires_at"] = time.time() - 3 * 86400
        con.execute("UPDATE control SET args = ? WHERE id = ?", (json.dumps(args), stale))
    # stopped once both rows are applied, not after a fixed --duration: the run loop's clock
    # starts while the actors may still be starting, and ETH's signal waits (pending) until
    # its actor runs: 4 s for that on a loaded machine could end the run with the row not done
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "run", "--config", str(config)],
                            cwd=config.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_until(lambda: proc.poll() is not None or all(
            result is not None for *_, result in controls(data / "bot.sqlite")),
            timeout=90, interval=0.2, message="both queued signals applied")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-2000:]
    results = {cid: result for cid, _, _, _, result in controls(data / "bot.sqlite")}
    assert results[stale].startswith("expired: not delivered"), results
    assert results[stale + 1] == "delivered", results
    with sqlite3.connect(data / "bot.sqlite") as con:
        received = {r[0] for r in con.execute(
            "SELECT correlation_id FROM events WHERE type = 'SignalReceived'")}
        journaled = [json.loads(r[0])["result"] for r in con.execute(
            "SELECT data FROM events WHERE type = 'ControlApplied' AND symbol = ?", (BTC,))]
    assert f"cli-{stale}" not in received and f"cli-{stale + 1}" in received
    assert journaled == [results[stale]]
    log = (data / "logs" / "bot.log").read_text()
    assert f"signal {BTC} long dropped: expired" in log


@dataclass
class Child:
    state: ChildState


@dataclass
class Sup:
    """The supervisor's part the applier uses, injected through its constructor."""

    children: dict[str, Child]
    delivered: list[tuple[str, Any]] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)

    def deliver_signal(self, symbol: str, signal: Any) -> bool:
        self.delivered.append((symbol, signal))
        return True

    def resume(self, symbol: str, by: str = "operator") -> ResumeTicket:
        self.resumed.append(symbol)
        ticket = ResumeTicket(by)
        ticket.lifted()  # its actor stored the lifted quarantine at once
        return ticket


def results(repo: Repository) -> dict[int, str | None]:
    return repo.read(lambda: {r.id: r.result for r in ControlRow.select()})


def test_an_expired_signal_is_never_delivered_even_after_waiting_for_its_actor(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite")
    now = [1_000_000.0]
    sup = Sup({BTC: Child(ChildState.STARTING)})
    applier = ControlApplier(repo=repo, sup=sup, log=logger, wall=lambda: now[0])
    try:
        cid = control.request(repo, "signal", BTC, side="long", expires_at=now[0] + 300)
        applier.apply()
        assert results(repo)[cid] is None  # waits for its actor
        now[0] += 301
        sup.children[BTC].state = ChildState.RUNNING
        applier.apply()
        assert results(repo)[cid] == f"expired: not delivered (expires_at {1_000_300:.3f})"
        assert sup.delivered == []
    finally:
        repo.close()


# -- 7: resume of a symbol that is not stopped ------------------------------------------------

def test_resume_of_a_symbol_that_is_not_stopped_changes_nothing(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite")
    sup = Sup({BTC: Child(ChildState.RUNNING), ETH: Child(ChildState.RUNNING)})
    applier = ControlApplier(repo=repo, sup=sup, log=logger)
    try:
        idle = control.request(repo, "resume", BTC, by="cli")
        applier.apply()
        assert results(repo)[idle] == "not stopped: nothing changed" and sup.resumed == []
        repo.quarantine(ETH, "close failed 3 times", correlation_id="q1")
        repo.set_meta(OWED + ETH, "close failed 3 times")
        meant = control.request(repo, "resume", ETH, by="cli")
        applier.apply()
        assert results(repo)[meant] == "resumed (was quarantined)" and sup.resumed == [ETH]
        assert repo.get_meta(OWED + ETH) == ""  # a person resumed the quarantined symbol
    finally:
        repo.close()


def test_the_cli_refuses_resume_of_a_symbol_the_database_has_not_stopped(tmp_path):
    config = write_config(tmp_path)
    db = tmp_path / "data" / "bot.sqlite"
    line = one_error_line(bot(config, "resume", BTC))  # no bot ever ran: nothing is stopped
    assert line.endswith(f"resume {BTC}: not stopped (not quarantined, no open escalation, no "
                         "emergency close owed); nothing queued")
    assert bot(config, "signal", ETH, "exit").returncode == 0  # makes the database
    one_error_line(bot(config, "resume", BTC))
    assert [c for _, c, _, _, _ in controls(db)] == ["signal"]
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO actor_state (symbol, incarnation, phase, order_seq, "
                    "cooldown_until, close_attempts, needs_stop, quarantined, restarts, "
                    "updated_at) VALUES (?, 1, 'flat', 0, 0, 0, 0, 1, 0, 0)", (BTC,))
    queued = bot(config, "resume", BTC)
    assert queued.returncode == 0 and "resume BTC/USDT:USDT: queued" in queued.stdout, queued.stderr
    assert [c for _, c, _, _, _ in controls(db)] == ["signal", "resume"]


# -- 3: a data dir or logs dir that cannot be created or written --------------------------------

def test_a_data_dir_under_a_file_or_a_file_named_logs_is_one_line(tmp_path):
    config = write_config(tmp_path)
    (tmp_path / "afile").write_text("")
    line = one_error_line(bot(config, "run", "--duration", "1",
                              "--data-dir", str(tmp_path / "afile" / "data")))
    assert line == (f"bot.py: error: data dir {tmp_path / 'afile' / 'data'}: cannot create it: "
                    f"{tmp_path / 'afile'} is not a directory (bot.data_dir or --data-dir)")
    data = tmp_path / "d2"
    (data / "logs").parent.mkdir()
    (data / "logs").write_text("")
    line = one_error_line(bot(config, "run", "--duration", "1", "--data-dir", str(data)))
    assert line == (f"bot.py: error: logs dir {data / 'logs'}: is not a directory "
                    "(bot.data_dir or --data-dir)")


def as_unprivileged() -> list[str]:
    """Run the bot without root's power to ignore permissions: as `nobody` under root, else as
    ourselves (then the chmod below applies)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    return [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def open_tmp() -> Iterator[Path]:
    """A temp dir the unprivileged user can reach (pytest's own are 0700 under root's)."""
    with tempfile.TemporaryDirectory(prefix="bot-perm-") as name:
        os.chmod(name, 0o755)
        yield Path(name)


def test_a_data_dir_or_logs_dir_without_permission_is_one_line(open_tmp):
    prefix = as_unprivileged()
    tmp_path = open_tmp
    config = write_config(tmp_path)
    os.chmod(config, 0o644)
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o755)
    os.chmod(closed, 0o555 if not prefix else 0o755)  # nobody may not write in root's dir
    run = [*prefix, sys.executable, str(ROOT / "bot.py"), "run", "--duration", "1",
           "--config", str(config)]
    r = subprocess.run([*run, "--data-dir", str(closed / "data")], capture_output=True,
                       text=True, timeout=90, cwd="/")
    assert one_error_line(r) == (f"bot.py: error: data dir {closed / 'data'}: cannot create it "
                                 "(permission denied) (bot.data_dir or --data-dir)")
    data = tmp_path / "open"
    (data / "logs").mkdir(parents=True)
    os.chmod(data, 0o777)
    os.chmod(data / "logs", 0o555)
    r = subprocess.run([*run, "--data-dir", str(data)], capture_output=True, text=True,
                       timeout=90, cwd="/")
    assert one_error_line(r) == (f"bot.py: error: logs dir {data / 'logs'}: cannot write in it "
                                 "(permission denied) (bot.data_dir or --data-dir)")


# -- 5: `bot.py cluster` on a config without a cluster ----------------------------------------

def test_cluster_on_a_config_without_a_cluster_says_so(tmp_path):
    line = one_error_line(bot(write_config(tmp_path), "cluster"))
    assert "this config runs no cluster ([cluster] enabled = false" in line
    assert "--config" in line and "required when cluster.enabled = true" not in line


# -- 9: the dashboard URL of a stopped bot ------------------------------------------------------

def test_status_of_a_stopped_bot_shows_no_dashboard_url(tmp_path):
    config = write_config(tmp_path, dashboard='enabled = true\nhost = "127.0.0.1"\nport = 0')
    ran = bot(config, "run", "--duration", "2")
    assert ran.returncode == 0, ran.stderr[-2000:]
    written = json.loads((tmp_path / "data" / "status.json").read_text())
    assert written["bot"].get("dashboard", "").startswith("http://127.0.0.1:")  # it did run
    shown = bot(config, "status", "--json")
    assert shown.returncode == 0, shown.stderr
    assert "dashboard" not in json.loads(shown.stdout)["bot"]
    table = bot(config, "status")
    assert table.returncode == 0 and "bot: stopped" in table.stdout, table.stderr
    assert "dashboard" not in table.stdout and "http://" not in table.stdout


# -- 8: `run --workers N` above the number of accounts warns once ------------------------------

def test_more_workers_than_accounts_warns_once(tmp_path):
    config = write_config(tmp_path, logging="console = true")
    ran = bot(config, "run", "--workers", "3", "--duration", "2", timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    warning = "--workers 3: only 1 account(s) configured, running 1 worker(s)"
    assert ran.stderr.count(warning) == 1, ran.stderr[-3000:]
    logs = tmp_path / "data" / "logs"
    assert sum(p.read_text().count(warning) for p in logs.glob("*.log")) == 1


def test_status_after_a_sigkill_shows_no_actor_running(tmp_path):
    """Found by a chaos review: after a SIGKILL the last snapshot still said every actor was
    `running` with a fresh price, and `bot.py status` showed it so under `bot: stopped`."""
    import os
    import signal as signals

    config = write_config(tmp_path)
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "run", "--config", str(config)],
                            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    status_file = tmp_path / "data" / "status.json"

    def actors_running() -> bool:
        try:
            actors = json.loads(status_file.read_text())["actors"]
        except (OSError, ValueError, KeyError):
            return False
        return bool(actors) and all(a["state"] == "running" for a in actors)

    try:
        wait_until(actors_running, timeout=60, message="actors running in the status")
    finally:
        os.kill(proc.pid, signals.SIGKILL)
        proc.wait(timeout=30)
    assert all(a["state"] == "running" for a in json.loads(status_file.read_text())["actors"])
    shown = bot(config, "status", "--json")
    assert shown.returncode == 0, shown.stderr
    actors = json.loads(shown.stdout)["actors"]
    assert [(a["state"], a["last_state"], a["last_tick_age_s"]) for a in actors] == [
        ("stopped", "running", None)] * 2
    table = bot(config, "status")
    # killed, not stopped: tests/runtime/test_status_of_a_killed_bot.py
    assert "bot: NOT RUNNING, STALE STATUS" in table.stdout, table.stdout
    assert " running " not in table.stdout, table.stdout


# -- a status.json that is JSON but not a status ---------------------------------------------

def test_a_status_file_of_the_wrong_shape_is_one_line_naming_it(tmp_path):
    # valid JSON of another shape (another tool's file, an older or truncated snapshot) gave
    # "unexpected KeyError/TypeError in status"
    config = write_config(tmp_path)
    status = tmp_path / "data" / "status.json"
    status.parent.mkdir(mode=0o700)
    for text in ("{}", "[]", '"text"', '{"bot": {}}', '{"bot": {}, "health": {}}',
                 '{"bot": {"pid": 1}, "health": [], "actors": 3}'):
        status.write_text(text)
        for args in (("status",), ("status", "--json"), ("status", "--account", "x")):
            shown = bot(config, *args)
            if shown.returncode == 0:  # what can be shown is shown (the JSON as stored)
                assert "Traceback" not in shown.stderr and args[-1] == "--json", (text, args)
                continue
            one_error_line(shown)
            assert str(status) in shown.stderr or "--account" in shown.stderr, (text, args)
