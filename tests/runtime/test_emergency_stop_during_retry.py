"""The bot stopping while a step of the emergency close waits to be tried again (found by
review): the 2 s / 4 s waits between a step's retries were a plain `time.sleep`, deaf to
`stop()`, so a shutdown waited through every failing step's retries (and the close went on
sending after the bot had begun to stop). The wait now ends at `stop()`: the run ends there, the
close stays owed (the next start runs it, reading the positions first) and an ERROR line says so.
Real paper exchange (its fault injector answers the errors), real SQLite, the closer's own
thread and its real waits."""

from __future__ import annotations

from decimal import Decimal as D

from loguru import logger

from exchange import errors
from exchange.paper.exchange import PaperExchange
from runtime.emergency import OWED, EmergencyCloser
from storage import queries
from storage.repository import Repository
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices
from tests.support.waiting import wait_until

REASON = "close failed 3 times"


def test_stop_during_a_step_retry_ends_the_run_and_leaves_the_close_owed(tmp_path):
    clock = FakeClock()
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC], clock=clock,
                          price_source=ScriptedPrices({BTC: D(100)}),
                          starting_balance=D(10000), slippage_bps=D(0))
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    alerts: list[tuple] = []
    closer = EmergencyCloser(exchange=paper, repo=repo, prefix=f"acc-{repo.id_tag}-",
                             logger=logger, clock=clock, retry_owed=True,
                             alert=lambda *a: alerts.append(a))  # the real waits
    lines: list[tuple[str, str]] = []
    sink = logger.add(lambda m: lines.append((m.record["level"].name, m.record["message"])),
                      level="WARNING")
    try:
        paper.create_order(BTC, "market", "buy", D(1), None, {"clientOrderId": "in1"})
        paper.faults.fail_next("fetch_positions", 1000, errors.ExchangeUnavailable("HTTP 503"))
        repo.set_meta(OWED + BTC, REASON)  # as the escalation commits it
        closer.close(BTC, REASON)
        wait_until(lambda: any("retried in 2s" in text for _, text in lines), timeout=30,
                   message="the first retry's wait")
        closer.stop()
        wait_until(lambda: closer.running() == [], timeout=30, message="the close's thread ends")
        retries = [text for _, text in lines if "retried in" in text]
        assert len(retries) == 1, retries  # not tried again once the bot stops
        cut = [text for level, text in lines if "cut short by the bot's stop" in text]
        assert len(cut) == 1 and "still owed, the next start runs it" in cut[0]
        assert [level for level, text in lines if "cut short" in text] == ["ERROR"]
        assert repo.get_meta(OWED + BTC) == REASON  # the next start runs it again
        assert alerts == []  # not a failure of the close: the stop ended it
        assert repo.read(queries.events, BTC, "EmergencyCloseRequested") == []
        paper.faults.clear()
        assert len([p for p in paper.fetch_positions([BTC]) if p.contracts > 0]) == 1
    finally:
        logger.remove(sink)
        paper.faults.clear()
        repo.close()
        paper.close()
