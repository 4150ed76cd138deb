"""Rule 4: an account whose start raised (after the accounts before it started) left those
accounts running without a graceful stop: `Bot._serve` started them before its try/finally,
so no "stopping" line, no actor's final line, and their non-daemon actor threads kept the
process alive after "bot stopped" (found by review). Real bot in a subprocess, paper
accounts, SQLite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.configs import NO_DASHBOARD_CONSOLE_LOG, QUIET_PAPER, account

ROOT = Path(__file__).resolve().parents[2]

CONFIG = (QUIET_PAPER + NO_DASHBOARD_CONSOLE_LOG + account("a", "BTC/USDT:USDT")
          + account("b", "ETH/USDT:USDT"))


def test_an_account_failing_to_start_still_stops_the_started_ones(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-m", "tests.runtime.half_started_bot", str(config)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(
            f"the bot never exited: its started account kept running\n{out}") from None
    assert "can't start new thread" in out, out
    lines = out.splitlines()
    stopping = [i for i, line in enumerate(lines) if "stopping: no new entries" in line]
    assert stopping, out
    stopped = [i for i, line in enumerate(lines) if "BTC/USDT:USDT" in line and "stopped (" in line]
    assert stopped and stopped[0] > stopping[0], out
    # the account that never started stops cleanly too (its feed thread was never started)
    assert "did not stop cleanly" not in out, out


def test_a_half_started_account_stops_its_actors(tmp_path: Path) -> None:
    """The account's start raised after its supervisor started the actors, before the feed
    thread started: `stop()` raised on the feed ("cannot join thread before it is started")
    and never reached `sup.stop()`, so the actors ran on without their final line."""
    from loguru import logger

    from config.loader import load_settings
    from runtime.account import AccountRuntime
    from supervision.child import ChildState
    from tests.support.waiting import wait_until

    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"))
    settings = load_settings(config)
    account = AccountRuntime(settings.account_settings()[0], settings.data_dir_path(),
                             logger=logger, tagged=True)
    account.open()
    try:
        account.build()
        assert account.sup is not None
        sup = account.sup
        sup.start()  # what start() did before the step that raised
        wait_until(lambda: all(c.state is ChildState.RUNNING for c in sup.children.values()),
                   timeout=30, message="the actors run")
        assert account.stop() == []
        assert all(c.state is ChildState.STOPPED for c in sup.children.values())
    finally:
        account.close()
