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
        self.reads = 0

    def fetch_positions(self, symbols):
        self.reads += 1
        held = self.paper.fetch_positions(symbols)
        if not self.reading.is_set():
            self.reading.set()
            assert self.go.wait(30)
        return held

    def __getattr__(self, name):
        return getattr(self.paper, name)


def _closer(tmp_path):
    """The paper exchange (its position reads held by HeldRead), the bot's SQLite and the
    EmergencyCloser on them, one fake clock for all."""
    clock = FakeClock()
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC], clock=clock,
                          price_source=ScriptedPrices({BTC: D(100)}),
                          starting_balance=D(10000), slippage_bps=D(0))
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    held = HeldRead(paper)
    closer = EmergencyCloser(exchange=held, repo=repo, prefix=f"acc-{repo.id_tag}-",
                             logger=logger, clock=clock, sleep=lambda s: None)
    return paper, repo, held, closer


def test_a_close_asked_while_one_runs_is_run_once_more_when_it_ends(tmp_path):
    paper, repo, held, closer = _closer(tmp_path)
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


def test_a_close_this_process_asked_is_not_resumed_as_one_left_by_a_restart(tmp_path):
    """At start the account reads the closes owed before its actors run (runtime/account.py
    `start`): an actor failing at its first spawn may escalate before the owed closes are
    resumed, and its own close, owed and running, was then taken for one a killed process
    left: alerted as "interrupted by a restart" and run a second time (seen once in
    tests/runtime/test_emergency_reconcile_only.py: two reconcile-only runs for one close)."""
    paper, repo, held, closer = _closer(tmp_path)
    alerts: list[str] = []
    try:
        paper.create_order(BTC, "market", "buy", D(1), None, {"clientOrderId": "in1"})
        before = closer.owed([BTC])  # the account's read, before its actors start
        closer.close(BTC, "crash loop")  # an actor's escalation, right after they started
        wait_until(held.reading.is_set, timeout=30, message="its close reads")
        assert repo.get_meta(OWED + BTC) == "crash loop"  # owed while it runs
        closer.resume_owed([BTC], resumed=set(), alert=lambda sym, text: alerts.append(text),
                           then=lambda sym: None, before=before)
        held.go.set()
        wait_until(lambda: closer.running() == [], timeout=30, message="the close ended")
        assert alerts == []
        assert repo.get_meta(OWED + BTC) == ""
        sells = [s for s in paper.submissions() if s["side"] == "sell"]
        assert len(sells) == 1
        assert held.reads == 1, "the close ran a second time"
    finally:
        held.go.set()
        repo.close()
        paper.close()
