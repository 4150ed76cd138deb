"""The one decision loop's guarantees, for both styles: the step bound, prices and entries
before reconciliation, lost signals and SignalHandled in the hedge grid's actor."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import ccxt
import pytest

from actors.cores import OneWayCore
from actors.loop import MAX_STEPS, RunawayLoop
from actors.messages import ExternalSignal, Timer
from actors.reconcile_retry import TEMPORARY_MAX_WAIT_S
from tests.actors.test_grid_actor import GridBot
from tests.exchange.paper.paper_support import BTC
from tests.support.waiting import wait_until
from tests.trading.conftest import make_rules
from tests.trading.scenario import loop_for
from trading.decide import SymbolCore
from trading.decision import Decision
from trading.events import OrderCanceled, TimerFired
from trading.model import Side, SymbolState


class EchoCore:
    """A core with a bug: every decision asks for a cancel whose result asks for another."""

    def __init__(self) -> None:
        self.inner = SymbolCore(make_rules())
        self.decided = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def close_backoff(self, failures: int) -> float:
        return self.inner.rules.risk.close_backoff(failures)

    def decide(self, state: SymbolState, event: Any, now: float, admit: Any = None) -> Decision:
        self.decided += 1
        return Decision(state=state, commands=("cancel again",))


def test_a_runaway_decision_loop_raises_naming_the_event_that_started_it():
    core = EchoCore()
    executed: list[Any] = []

    def execute(command: Any) -> list:
        executed.append(command)
        return [OrderCanceled(client_order_id="c1")]

    loop, repo = loop_for(
        OneWayCore(core), SymbolState(symbol="BTC/USDT:USDT"), clock=lambda: 1000.0, execute=execute
    )  # type: ignore[arg-type]
    with pytest.raises(
        RunawayLoop, match=r"did not settle after 1000 steps, started by TimerFired"
    ):
        loop.apply(TimerFired())
    assert core.decided == MAX_STEPS and len(executed) == MAX_STEPS
    assert len(repo.decisions) == MAX_STEPS  # each step was committed before its command ran


def test_grid_prices_before_reconciliation_are_decided_and_entries_wait_journaled(tmp_path: Path):
    bot = GridBot(tmp_path)
    down = ccxt.NetworkError("exchange unreachable")
    bot.paper.faults.fail_next("fetch_positions", 10_000, down)
    try:
        bot.sup.start()
        wait_until(
            lambda: bot.sup.children[BTC].state.value == "running", message="grid actor running"
        )
        bot.move("101")
        view = bot.views[BTC]
        assert not view.reconciled and view.state.last_price == D(101)  # the price was not lost
        refused = bot.events("EntryRefused")
        assert refused and {e["reason"] for e in refused} == {
            "not reconciled with the exchange yet"
        }
        assert not [s for s in bot.paper.submissions() if s["symbol"] == BTC]  # nothing was sent
        # A heartbeat's Timer may retry (and fail) once the move's second has passed the first
        # backoff; one is sent here so every run is that case. Each failure in a row pushes the
        # next try out (at most TEMPORARY_MAX_WAIT_S while all were temporary): a Timer inside
        # that wait does not reconcile, so the clock is moved past it once the venue is back.
        bot.sup.tell(BTC, Timer())
        bot.settle()
        assert not bot.views[BTC].reconciled
        bot.paper.faults.clear()
        bot.clock.advance(TEMPORARY_MAX_WAIT_S)
        bot.sup.tell(BTC, Timer())  # Timer: retry the reconciliation, then the time-driven duties
        wait_until(lambda: bot.views[BTC].reconciled, message="reconciled")
        bot.clock.advance(60)  # past open_retry_s
        bot.move("101")
        assert set(bot.positions()) == {"long", "short"}
    finally:
        bot.stop()


def test_grid_journals_signal_handling_in_the_decisions_transaction_and_skips_lost_ones(
    tmp_path: Path,
):
    bot = GridBot(tmp_path).start()
    try:
        bot.move("100")
        bot.sup.deliver_signal(BTC, ExternalSignal(side=Side.LONG, signal_id="sig-1"))
        bot.settle()
        skipped = [e for e in bot.rows("SignalSkipped") if e[1].get("signal_id") == "sig-1"]
        handled = [e for e in bot.rows("SignalHandled") if e[1].get("signal_id") == "sig-1"]
        assert len(skipped) == 1 and len(handled) == 1
        assert skipped[0][0] == handled[0][0]  # one correlation id: one transaction
        # a signal journaled while the actor is down is recorded as skipped by the next one
        bot.repo.record(
            BTC, "SignalReceived", {"signal_id": "sig-2", "side": "long"}, correlation_id="sig-2"
        )
        bot.repo.claim(BTC)  # fences the running incarnation off: its next commit raises Fenced
        bot.market.move(BTC, "100.5")
        bot.feed.poll_once()
        wait_until(
            lambda: (
                bot.sup.children[BTC].restarts == 1
                and bot.sup.children[BTC].state.value == "running"
            ),
            message="restarted",
        )
        lost = [e for e in bot.rows("SignalSkipped") if e[1].get("signal_id") == "sig-2"]
        assert len(lost) == 1 and "down or restarting" in lost[0][1]["reason"]
    finally:
        bot.stop()
