"""Rule 4 at start: a SIGTERM (Ctrl-C, a service manager's stop) that arrives while the bot is
still starting, its venue accepting connections and never answering the markets read, is a
graceful stop. The start's retries of that read went on regardless (5 tries per load, a second
load, each waiting `exchange.timeout_ms`): 119 s with the default 10 s timeout, nothing logged
about the signal, and then exit code 2 ("markets unusable") instead of 0.

Real `python bot.py run` in live mode on the Bybit emulator (127.0.0.1), whose markets endpoint
holds every request unanswered."""

from __future__ import annotations

import pytest

from tests.e2e.bot_process import sigterm_while_the_markets_read_hangs

pytestmark = pytest.mark.slow


def test_sigterm_while_the_markets_read_hangs_at_start_stops_after_that_call(tmp_path):
    log = sigterm_while_the_markets_read_hangs(tmp_path / "live.toml", tmp_path / "data",
                                               bot={}, exchange={"timeout_ms": 1000})
    assert "received SIGTERM; stopping gracefully" in log
