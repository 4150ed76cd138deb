"""Bad start-up input to `python -m exchange.paper_server` is one line naming the problem and
exit code 2, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import urllib.request
from contextlib import closing
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.paper.exchange import PaperExchange
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices
from tests.exchange.paper_server.server_support import REPO, ServerProcess, free_port


def run_server(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PAPER_SERVER_API_KEY": "k", "PAPER_SERVER_API_SECRET": "s",
           **(env_extra or {})}
    return subprocess.run([sys.executable, "-m", "exchange.paper_server", *args], cwd=REPO,
                          env=env, check=False, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("args", "named"), [
    (["--symbols", "FOO"], "--symbols: paper: malformed symbol 'FOO' (expected BASE/QUOTE"),
    # served no market at all (every order BadSymbol), with nothing said at start
    (["--symbols", ","], "--symbols: no symbol given (got ',')"),
    (["--symbols", " "], "--symbols: no symbol given (got ' ')"),
    (["--balance", "lots"], "--balance: not a number: 'lots'"),
    # a NaN balance was stored in a new store for good (every order then failed inside);
    # a port out of range was an OverflowError traceback from the bind
    (["--balance", "nan"], "--balance: must be a finite number of USDT > 0, got 'nan'"),
    (["--balance", "-100"], "--balance: must be a finite number of USDT > 0, got '-100'"),
    (["--balance", "0"], "--balance: must be a finite number of USDT > 0, got '0'"),
    (["--balance", "inf"], "--balance: must be a finite number of USDT > 0, got 'inf'"),
    (["--port", "70000"], "--port: must be 0..65535, got 70000"),
])
def test_bad_arguments_are_one_line(tmp_path: Path, args: list[str], named: str) -> None:
    r = run_server("--port", str(free_port()), "--store", str(tmp_path / "p.sqlite"), *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"paper server: {named}")
    assert "Traceback" not in r.stderr


def test_unreadable_keys_file_and_taken_port_are_one_line(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text("not json")
    r = run_server("--port", str(free_port()), "--store", str(tmp_path / "p.sqlite"),
                   "--keys", str(keys),
                   env_extra={"PAPER_SERVER_API_KEY": "", "PAPER_SERVER_API_SECRET": ""})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert f"paper server: {keys}: not a keys file" in r.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_server("--port", str(port), "--store", str(tmp_path / "p.sqlite"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1] == (
        f"paper server: --host 127.0.0.1 --port {port}: error while attempting to bind on "
        f"address ('127.0.0.1', {port}): address already in use")


@pytest.mark.parametrize("given", ["PAPER_SERVER_API_KEY", "PAPER_SERVER_API_SECRET"])
def test_one_key_variable_without_its_pair_is_one_line(tmp_path: Path, given: str) -> None:
    """Found by review: one of the two set (a typo in the other's name) fell back to the keys
    file, or wrote new random keys, without a word: the bots' key was then refused."""
    other = ({"PAPER_SERVER_API_KEY", "PAPER_SERVER_API_SECRET"} - {given}).pop()
    r = run_server("--port", str(free_port()), "--store", str(tmp_path / "p.sqlite"),
                   "--keys", str(tmp_path / "keys.json"),
                   env_extra={given: "set-value-123", other: ""})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        f"paper server: {given} is set but not its pair: set PAPER_SERVER_API_KEY and "
        "PAPER_SERVER_API_SECRET both, or neither (the keys file is used then)"]
    assert "set-value-123" not in r.stderr
    assert not (tmp_path / "keys.json").exists()


def test_an_empty_keys_file_left_by_a_killed_start_gets_its_keys(tmp_path: Path) -> None:
    """A start killed between creating the keys file (0600, empty) and writing it left a file
    every later start refused as 'not a keys file'; no key was ever handed out from it."""
    keys = tmp_path / "paper_server_keys.json"  # the default: beside the store
    keys.touch(mode=0o600)
    server = ServerProcess(store=tmp_path / "p.sqlite", env_keys=False).start()
    try:
        data = json.loads(keys.read_text())
        assert set(data) == {"api_key", "api_secret"}
        assert oct(keys.stat().st_mode & 0o777) == oct(0o600)
    finally:
        server.stop()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_keys_file_others_can_read_is_refused_naming_it(tmp_path: Path, mode: int) -> None:
    """The keys file holds the secret that trades the shared account; one that other users
    can read was used as it was (the bot refuses such a secrets file, README: Trading live)."""
    keys = tmp_path / "keys.json"
    keys.write_text('{"api_key": "paper-k", "api_secret": "paper-s"}\n')
    keys.chmod(mode)
    r = run_server("--port", str(free_port()), "--store", str(tmp_path / "p.sqlite"),
                   "--keys", str(keys),
                   env_extra={"PAPER_SERVER_API_KEY": "", "PAPER_SERVER_API_SECRET": ""})
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines() == [
        f"paper server: {keys}: mode {mode:04o} lets other users read or change the API "
        f"secret; must be 0600 (run: chmod 600 {keys})"]
    assert "paper-s" not in r.stderr
    assert not (tmp_path / "p.sqlite").exists()  # refused before the store is opened


def test_a_second_server_on_a_store_in_use_is_refused_naming_the_pid(tmp_path: Path) -> None:
    """Rule 1 for the shared paper exchange: a second `python -m exchange.paper_server` on the
    same store (a restart while the old one still runs; with --port 0 the ports differ) served
    beside the first, each with its own copy of the account in memory, both writing the file
    (the same order and trade ids, each its own wallet). Refused, exit 3, before it reads the
    store; the first one keeps serving."""
    store = tmp_path / "shared.sqlite"
    first = ServerProcess(store=store).start()
    try:
        assert first.proc is not None
        proc = subprocess.Popen(
            [sys.executable, "-m", "exchange.paper_server", "--port", "0", "--store", str(store)],
            cwd=REPO, env={**os.environ, "PAPER_SERVER_API_KEY": "k",
                           "PAPER_SERVER_API_SECRET": "s"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 3, out
        assert out.strip().splitlines() == [
            f"paper server: --store {store}: another paper server or bot is using it "
            f"(PID {first.proc.pid} holds a lock on it)"]
        assert json.loads(urllib.request.urlopen(f"{first.base_url}/v5/market/time",
                                                 timeout=5).read())["retCode"] == 0
    finally:
        assert first.stop() == 0
    again = ServerProcess(store=store).start()  # the lock went with the first process
    assert again.stop() == 0


def test_a_store_others_can_read_is_made_private_at_start(tmp_path: Path) -> None:
    """The server set umask 077, so a new store is 0600, but a store that already was 0644 (an
    older version's, or copied there) stayed readable by every local user while the server
    traded in it, and SQLite gives its -wal and -shm the same mode (found by review; the bot
    tightens its own database and paper store at start, README 'Using it')."""
    store = tmp_path / "shared.sqlite"
    first = ServerProcess(store=store).start()
    assert first.stop() == 0
    store.chmod(0o644)
    server = ServerProcess(store=store).start()
    try:
        modes = {p.name: oct(p.stat().st_mode & 0o777) for p in tmp_path.iterdir()
                 if p.name.startswith("shared.sqlite")}
    finally:
        assert server.stop() == 0
    assert modes["shared.sqlite"] == oct(0o600), modes
    assert set(modes.values()) == {oct(0o600)}, modes


def test_a_store_that_is_not_a_database_is_one_line(tmp_path: Path) -> None:
    """`--store` naming a file that is not an SQLite database (another file given by mistake,
    a damaged store) ended the server in StoreUnreadable's traceback; the bot says the same
    fault in one line (found by review)."""
    store = tmp_path / "p.sqlite"
    store.write_bytes(b"not an SQLite file at all " * 100)
    r = run_server("--port", str(free_port()), "--store", str(store))
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"paper server: {store}: the paper exchange store is not a readable database (file is "
        "not a database); move it aside to start a fresh paper account"]


@pytest.mark.parametrize(("content", "error"), [
    ('{"api_key": "paper-k"}\n', "KeyError"),  # the secret's line lost in an edit
    ('["paper-k", "paper-s"]\n', "TypeError"),  # JSON, not an object
])
def test_a_keys_file_without_its_two_fields_is_one_line(tmp_path: Path, content: str,
                                                        error: str) -> None:
    """A keys file that is JSON but not {api_key, api_secret}: one line naming the file, never
    a KeyError / TypeError traceback."""
    keys = tmp_path / "keys.json"
    keys.write_text(content)
    keys.chmod(0o600)
    r = run_server("--port", str(free_port()), "--store", str(tmp_path / "p.sqlite"),
                   "--keys", str(keys),
                   env_extra={"PAPER_SERVER_API_KEY": "", "PAPER_SERVER_API_SECRET": ""})
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines() == [
        f"paper server: {keys}: not a keys file (JSON with api_key and api_secret): {error}"]


def test_a_keys_file_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    """`--keys` under a path that is a file (no keys file can be created there): one line
    naming the path, exit 2, never an OSError traceback."""
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    r = run_server("--port", str(free_port()), "--store", str(tmp_path / "p.sqlite"),
                   "--keys", str(blocker / "keys.json"),
                   env_extra={"PAPER_SERVER_API_KEY": "", "PAPER_SERVER_API_SECRET": ""})
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paper server: ") and str(blocker) in lines[0]


@pytest.mark.parametrize(("stored_hedge", "flag"), [(True, []), (False, ["--hedge-mode"])])
def test_a_store_of_the_other_position_mode_with_a_position_is_refused_in_one_line(
    tmp_path: Path, stored_hedge: bool, flag: list[str],
) -> None:
    """A store holding a position in one position mode, started with the other `--hedge-mode`
    setting: refused at start (exit 2, one line naming the flag and the store), never a
    traceback, never served in a mode its positions were not opened in."""
    store = tmp_path / "p.sqlite"
    paper = PaperExchange(store_path=store, symbols=[BTC], hedge_mode=stored_hedge,
                          price_source=ScriptedPrices({BTC: Decimal(60000)}), clock=FakeClock())
    try:
        paper.create_order(BTC, "market", "buy", Decimal("0.01"), None,
                           {"positionIdx": 1} if stored_hedge else {})
    finally:
        paper.close()
    r = run_server("--port", str(free_port()), "--store", str(store), "--symbols", BTC, *flag)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    stored, wanted = ("hedge", "one-way") if stored_hedge else ("one-way", "hedge")
    assert r.stderr.strip().splitlines() == [
        f"paper server: --hedge-mode: {store} is a {stored} paper account with 1 open "
        f"position(s) and 0 open order(s); it cannot be opened in {wanted} mode (set "
        f"hedge_mode={stored_hedge}, or close everything in {stored} mode first, or use a new "
        "store file)"]


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_closes_the_store_and_says_so(tmp_path: Path,
                                                    stop_signal: signal.Signals) -> None:
    """SIGTERM or SIGINT (rule 4): the server closes the paper exchange, which writes each
    symbol's price checkpoint (the price a restart continues from), logs its last line and
    exits 0."""
    store = tmp_path / "p.sqlite"
    server = ServerProcess(store=store, symbols=BTC).start()
    assert server.proc is not None
    with urllib.request.urlopen(f"{server.base_url}/v5/market/tickers?category=linear"
                                "&symbol=BTCUSDT", timeout=5) as reply:
        assert json.loads(reply.read())["retCode"] == 0  # the BTC book moved to now
    server.proc.send_signal(stop_signal)
    assert server.proc.wait(15) == 0
    assert f"paper server: stopped, store {store} closed" in server.output
    with closing(sqlite3.connect(store)) as db:
        assert [s for (s,) in db.execute("SELECT symbol FROM prices")] == [BTC]
