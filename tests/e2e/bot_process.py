"""Running `python bot.py` as a real subprocess on a temporary data dir."""

from __future__ import annotations

import atexit
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from runtime.status_cli import status_dump
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, start_emulator
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, symbols: list[str], **sections: dict[str, Any]) -> Path:
    # the dashboard is on by default at port 8780: bots of parallel tests would compete for it
    # (the losers log an ERROR line), so a test's bot takes a free port unless it says otherwise
    sections.setdefault("dashboard", {"port": 0})
    lines = ["[symbols]", "list = [" + ", ".join(f'"{s}"' for s in symbols) + "]"]
    for name, values in sections.items():
        lines.append(f"[{name}]")
        for k, v in values.items():
            lines.append(f"{k} = {json.dumps(v) if not isinstance(v, bool) else str(v).lower()}")
    path.write_text("\n".join(lines) + "\n")
    return path


def start_bot(config: Path, data_dir: Path, *extra: str, env: dict[str, str] | None = None,
              stderr_to: Path | None = None) -> subprocess.Popen:
    """`python bot.py run` on a config and data dir; `env` replaces the inherited environment;
    `stderr_to`: its stderr appended to that file (a long run reads it at the end) instead of
    a pipe."""
    env = {**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"}
    err: Any = subprocess.PIPE
    if stderr_to is not None:
        err = stderr_to.open("a")  # the child holds its own copy
    try:
        proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "run", "--config",
                                 str(config), "--data-dir", str(data_dir), *extra], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=err, text=True)
    finally:
        if stderr_to is not None:
            err.close()
    _STARTED.append(proc)
    return proc


_STARTED: list[subprocess.Popen] = []


@atexit.register
def _no_bot_outlives_the_run() -> None:
    """A test that failed before stopping its bot must not leave it running (and trading on a
    deleted temp dir) after the test process ends."""
    for proc in _STARTED:
        if proc.poll() is None:
            proc.kill()


def cli(config: Path, data_dir: Path, *args: str,
        timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args, "--config", str(config),
                           "--data-dir", str(data_dir)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def status(config: Path, data_dir: Path) -> dict[str, Any] | None:
    r = cli(config, data_dir, "status", "--json")
    return json.loads(r.stdout) if r.returncode == 0 else None


def status_now(data_dir: Path) -> dict[str, Any] | None:
    """The status `bot.py status --json` prints, built in this process by the function that
    command runs (None while there is none or it cannot be read)."""
    try:
        return status_dump(data_dir)
    except (ValueError, OSError):
        return None


def wait_status(config: Path, data_dir: Path, check, timeout: float = 60, message: str = "status"):  # noqa: ANN001
    """Poll the status until `check` holds. In this process: a `bot.py status` process per
    poll cost about a CPU-second each, ~300 of them in the suite (the tests that check the
    command itself call `status`)."""
    def probe():  # noqa: ANN202
        s = status_now(data_dir)
        return s if s is not None and check(s) else None

    try:
        return wait_until(probe, timeout=timeout, interval=0.3, message=message)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{log_tails(data_dir)}") from None


def log_tails(data_dir: Path, lines: int = 30) -> str:
    """The end of every log the bot wrote under `data_dir`: what a failed wait needs."""
    out = []
    for log in sorted((data_dir / "logs").rglob("*.log")):
        out += [f"--- {log}", *log.read_text(errors="replace").splitlines()[-lines:]]
    return "\n".join(out) or f"(no logs under {data_dir / 'logs'})"


def count_rows(db_path: Path, sql: str, *params: Any) -> int:
    """The first column of `sql`'s first row in the SQLite file at `db_path`, read-only while a
    bot writes it; 0 before the bot made the file or its schema (this process never creates
    it: the bot makes it, with its own mode)."""
    if not db_path.exists():
        return 0
    try:
        with closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)) as db:
            row = db.execute(sql, params).fetchone()
    except sqlite3.OperationalError:  # no schema yet (or a write holds it past the timeout)
        return 0
    return int(row[0] or 0) if row else 0


def run_until(config: Path, data_dir: Path, done: Callable[[subprocess.Popen], Any], message: str,
              *, timeout: float = 120, env: dict[str, str] | None = None) -> str:
    """`bot.py run` (no --duration) until `done(the bot's process)` holds or the bot exits by
    itself, then a SIGTERM; asserts the bot exited 0 (and not before `done`) and returns its
    stderr. A test needing some activity waits for that activity, not for a fixed run length:
    the run loop's clock starts while the actors may still be starting, and a stall of a few
    seconds on a loaded machine ended a fixed run before the activity (the test then failed
    on a count). A `done` that never holds fails the wait, naming `message`, with the logs'
    tails. Its stderr goes to a file beside `data_dir` (a pipe nobody reads while it runs
    could fill and block it)."""
    stderr = data_dir.parent / f"{data_dir.name}.stderr"
    proc = start_bot(config, data_dir, env=env, stderr_to=stderr)
    try:
        try:
            wait_until(lambda: proc.poll() is not None or done(proc), timeout=timeout,
                       interval=0.3, message=message)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log_tails(data_dir)}") from None
        exited_alone = proc.poll() is not None
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = stderr.read_text(errors="replace")
    assert proc.returncode == 0, err[-2000:]
    assert not exited_alone, f"the bot exited before {message}: {err[-2000:]}"
    return err


BYBIT_MARKETS = "/v5/market/instruments-info"


def live_start_to_its_end(tmp_path: Path, venue: str, symbols: list[str], *,
                          api_key: str = API_KEY) -> tuple[Path, int, str]:
    """A live `bot.py run` on `symbols` against `venue`'s emulator (127.0.0.1) with `api_key`,
    waited for until it exits by itself (killed after 120 s): its config file, exit code and
    stderr."""
    emu = start_emulator(venue)
    try:
        config = write_config(
            tmp_path / "live.toml", symbols, bot={"mode": "live"},
            exchange={"id": venue, "api_url": emu.base_url, "timeout_ms": 5000,
                      "poll_interval_s": 5.0},
            logging={"console": False})
        env = {**os.environ, "BOT_API_KEY": api_key, "BOT_API_SECRET": API_SECRET}
        proc = start_bot(config, tmp_path / "data", env=env)
        try:
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    finally:
        emu.stop()
    return config, proc.returncode, err


def sigterm_while_the_markets_read_hangs(config: Path, data_dir: Path, *,
                                         bot: dict[str, Any], exchange: dict[str, Any],
                                         **sections: dict[str, Any]) -> str:
    """A live `bot.py run` on BTC against the Bybit emulator (127.0.0.1), whose markets endpoint
    accepts every request and never answers it (until the emulator stops): once the start's
    markets read is held, SIGTERM. Checks what every start stopped this way shows (exit 0, the
    call in flight and no retry after it, 'stop requested while starting', 'bot stopped' last)
    and returns the bot's log. `bot`, `exchange`: keys beside the live mode and the emulator's
    address; `sections`: further config sections."""
    emu = start_emulator("bybit")
    emu.fail_next(BYBIT_MARKETS, 50, hold="before")  # accepted, never answered (until emu.stop)
    try:
        write_config(config, ["BTC/USDT:USDT"], bot={"mode": "live", **bot},
                     exchange={"id": "bybit", "api_url": emu.base_url,
                               "rate_limit_per_s": 1000.0, **exchange},
                     logging={"console": False}, **sections)
        env = {**os.environ, "BOT_API_KEY": API_KEY, "BOT_API_SECRET": API_SECRET}
        proc = start_bot(config, data_dir, env=env)
        try:
            wait_until(lambda: emu.hits(BYBIT_MARKETS), timeout=60,
                       message="the markets read held")
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
        log = (data_dir / "logs" / "bot.log").read_text()
        assert proc.returncode == 0, err[-2000:] + log[-3000:]
        # the call in flight, no retry after
        assert len(emu.hits(BYBIT_MARKETS)) == 1, log[-3000:]
        assert "stop requested while starting" in log, log[-3000:]
        assert log.rstrip().endswith("bot stopped")
        return log
    finally:
        emu.stop()
