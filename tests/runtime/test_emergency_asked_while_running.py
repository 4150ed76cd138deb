"""A second escalation's emergency close asked while the first one still runs (found by review):
the first took its place ("that one goes on"), but it had read the positions already, so a
position opened after that read (the symbol resumed and escalated again) was never closed, and
the first run's end cleared the close owed, so not even the next start ran it. The running close
now runs once more when it ends, reading the positions again. Real paper exchange, real SQLite,
real threads."""

from __future__ import annotations

import threading
from decimal import Decimal as D

from loguru import logger

from exchange.paper.exchange import PaperExchange
from runtime.emergency import OWED, EmergencyCloser
from storage.repository import Repository
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices
from tests.support.waiting import wait_until


class HeldRead:
    """The paper exchange whose first position read answers, then holds its answer until the
    test lets it go (the venue slow to answer); every other call goes to the paper exchange."""

    def __init__(self, paper) -> None:
        self.paper = paper
        self.reading = threading.Event()
        self.go = threading.Event()

    def fetch_positions(self, symbols):
        held = self.paper.fetch_positions(symbols)
        if not self.reading.is_set():
            self.reading.set()
            assert self.go.wait(30)
        return held

    def __getattr__(self, name):
        return getattr(self.paper, name)


def test_a_close_asked_while_one_runs_is_run_once_more_when_it_ends(tmp_path):
    clock = FakeClock()
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC], clock=clock,
                          price_source=ScriptedPrices({BTC: D(100)}),
                          starting_balance=D(10000), slippage_bps=D(0))
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    held = HeldRead(paper)
    closer = EmergencyCloser(exchange=held, repo=repo, prefix=f"acc-{repo.id_tag}-",
                             logger=logger, clock=clock, sleep=lambda s: None)
    try:
        closer.close(BTC, "crash loop")  # flat when it reads
        wait_until(held.reading.is_set, timeout=30, message="the first close reads")
        paper.create_order(BTC, "market", "buy", D(1), None, {"clientOrderId": "in1"})
        repo.set_meta(OWED + BTC, "close failed 3 times")  # the second escalation commits it
        closer.close(BTC, "close failed 3 times")
        held.go.set()
        wait_until(lambda: closer.running() == [], timeout=30, message="the closes ended")
        assert [p for p in paper.fetch_positions([BTC]) if p.contracts > 0] == []
        assert repo.get_meta(OWED + BTC) == ""
        sells = [s for s in paper.submissions() if s["side"] == "sell"]
        assert len(sells) == 1
    finally:
        held.go.set()
        repo.close()
        paper.close()
