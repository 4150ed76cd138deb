"""Issue 16 item 13, the waiting rules of runtime/controls.py over a real repository (SQLite)
and a supervisor stand-in injected through the constructor: a queued signal waits while its
actor is starting, is skipped with a reason after the wait or at once when quarantined."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from runtime.controls import ControlApplier
from storage import control
from storage.models import ControlRow
from storage.repository import Repository
from supervision.child import ChildState
from tests.support.clock import ManualClock
from trading.model import Side

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


@dataclass
class Child:
    state: ChildState


@dataclass
class Sup:
    children: dict[str, Child]
    delivered: list[tuple[str, Any]] = field(default_factory=list)

    def deliver_signal(self, symbol: str, signal: Any) -> bool:
        if self.children[symbol].state is not ChildState.RUNNING:
            return False
        self.delivered.append((symbol, signal))
        return True


def results(repo: Repository) -> dict[int, str | None]:
    return repo.read(lambda: {r.id: r.result for r in ControlRow.select()})


def test_signal_waits_for_a_starting_actor_then_is_delivered_or_skipped(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite")
    clock = ManualClock()
    sup = Sup({BTC: Child(ChildState.STARTING), ETH: Child(ChildState.QUARANTINED)})
    applier = ControlApplier(repo=repo, sup=sup, log=logger, wait_s=60, clock=clock)
    try:
        first = control.request(repo, "signal", BTC, side="long", size_usdt="100")
        quarantined = control.request(repo, "signal", ETH, side="short")
        applier.apply()
        assert results(repo) == {first: None, quarantined:
                                 "skipped: the actor is quarantined (journaled as SignalSkipped)"}
        clock.advance(30)
        applier.apply()
        assert results(repo)[first] is None  # still waiting, not dropped
        sup.children[BTC].state = ChildState.RUNNING
        applier.apply()
        assert results(repo)[first] == "delivered" and sup.delivered[0][1].size_usdt == 100
        sup.children[BTC].state = ChildState.BACKING_OFF
        late = control.request(repo, "signal", BTC, side="exit")
        applier.apply()
        clock.advance(61)
        applier.apply()
        assert results(repo)[late] == ("skipped: the actor is backing_off after waiting 60s "
                                       "(journaled as SignalSkipped)")
        bad = control.request(repo, "signal", BTC, side="long", size_usdt="NaN")
        applier.apply()
        assert results(repo)[bad] == (f"control row {bad} (signal {BTC}): ValueError: "
                                      "size_usdt must be a finite number > 0 (got NaN)")
    finally:
        repo.close()


def test_a_signal_delivered_by_a_run_that_died_before_marking_it_done_is_not_delivered_again(tmp_path):
    """Found by the chaos run: killed after the delivery (SignalReceived journaled) but before
    the row was marked done, the next start delivered cli-N a second time."""
    repo = Repository(tmp_path / "bot.sqlite")
    sup = Sup({BTC: Child(ChildState.RUNNING)})
    try:
        cid = control.request(repo, "signal", BTC, side="long")
        repo.record(BTC, "SignalReceived", {"signal_id": f"cli-{cid}", "side": "long"},
                    correlation_id=f"cli-{cid}")  # what the dead run's delivery journaled
        ControlApplier(repo=repo, sup=sup, log=logger).apply()
        assert sup.delivered == []
        assert results(repo)[cid].startswith("already delivered")
        fresh = control.request(repo, "signal", BTC, side="short")
        ControlApplier(repo=repo, sup=sup, log=logger).apply()
        # delivered as queued: a short stays a short (mutation audit: every side read as
        # long survived), an exit an exit
        assert [(s.signal_id, s.side) for _, s in sup.delivered] == [(f"cli-{fresh}",
                                                                       Side.SHORT)]
        out = control.request(repo, "signal", BTC, side="exit")
        ControlApplier(repo=repo, sup=sup, log=logger).apply()
        assert [(s.signal_id, s.side) for _, s in sup.delivered][1:] == [(f"cli-{out}", None)]
    finally:
        repo.close()


def test_a_queued_size_is_judged_again_against_the_cap_and_must_be_above_zero(tmp_path):
    """A row queued by an older CLI or under an older config: a size above signals.max_size_usdt
    as configured now is refused, not traded, and a size of zero or below is a one-line error
    naming the row; neither reaches the actor. Found by the runtime mutation audit: with either
    check loosened no test failed."""
    from decimal import Decimal

    repo = Repository(tmp_path / "bot.sqlite")
    sup = Sup({BTC: Child(ChildState.RUNNING)})
    applier = ControlApplier(repo=repo, sup=sup, log=logger, max_size_usdt=Decimal("50"))
    try:
        big = control.request(repo, "signal", BTC, side="long", size_usdt="80")
        zero = control.request(repo, "signal", BTC, side="long", size_usdt="0")
        below = control.request(repo, "signal", BTC, side="short", size_usdt="-5")
        fits = control.request(repo, "signal", BTC, side="long", size_usdt="50")
        applier.apply()
        done = results(repo)
        assert done[big] == ("refused: size_usdt 80 is above signals.max_size_usdt 50 (queued "
                             "under an older config); not traded"), done[big]
        assert done[zero] == (f"control row {zero} (signal {BTC}): ValueError: size_usdt must "
                              "be a finite number > 0 (got 0)"), done[zero]
        assert done[below] == (f"control row {below} (signal {BTC}): ValueError: size_usdt must "
                               "be a finite number > 0 (got -5)"), done[below]
        assert done[fits] == "delivered"
        assert [(s.signal_id, s.size_usdt) for _, s in sup.delivered] == [(f"cli-{fits}", 50)]
    finally:
        repo.close()
