"""Incident 2: a bug in the close path must not leave a close pending for ever, nor make a loop.

The reviewer's case: the close's create_order raises a bug-like TypeError after the order
reached the exchange, and every lookup by client order id raises the same TypeError. The close
was left "outcome unknown" (never counted), every reconciliation failed on the same lookup and
was run again on every 1 s timer, without backoff or limit: no escalation, no alert, the close's
loss never booked. Now such a close is a failed attempt (counted, backed off, escalated after
max_close_attempts), failed reconciliations back off (the close backoff), and reconciliation
failing for a reason that is not temporary while a close is pending escalates after
max_close_attempts failures in a row. Temporary errors keep retrying, with backoff. The position
stays tracked throughout, and is booked closed from the exchange's fill once it can be read.

Production DecisionLoop and cores (both styles), CommandExecutor, real SQLite Repository and a
fake venue given to the loop's constructor; one test runs the whole bot (supervisor, alerts,
emergency closer, status dump) on the paper exchange, as the reviewer's demo did."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, Reconcile, Tick, Timer
from actors.reconcile_retry import TEMPORARY_MAX_WAIT_S
from exchange import errors
from exchange.records import PositionSide
from storage import queries
from storage.repository import Repository
from supervision.status import build_status
from tests.actors.test_cancel_reports_fill import SYM, Log
from tests.actors.test_cancel_reports_fill import Venue as BaseVenue
from tests.support.faulty_exchange import FaultyExchange, is_close_order
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from tests.trading.conftest import make_rules
from trading.commands import Escalate
from trading.decide import SymbolCore
from trading.grid.core import GridCore
from trading.grid.rules import GridRules
from trading.model import Phase, Side
from trading.rules import MarketRules

BUG = "unsupported operand type(s) for *: 'NoneType' and 'decimal.Decimal'"
MAX_ATTEMPTS = 3
BACKOFF_MAX_S = 8.0
WINDOW_S = 120


@dataclasses.dataclass
class Venue(BaseVenue):
    """The fake venue of tests/actors/test_cancel_reports_fill.py, refusing a reduce-only market
    order for a flat position as the venues do."""

    id: str = "fake"

    def create_order(self, symbol, type, side, amount, price=None, params=None):  # noqa: A002, ANN001, ANN201
        p = params or {}
        flat = self.pos[PositionSide.from_idx(p.get("positionIdx", 0))].qty == 0
        if p.get("reduceOnly") and type == "market" and "stopLossPrice" not in p and flat:
            raise errors.InvalidOrder("reduce-only order rejected: no position to reduce")
        return super().create_order(symbol, type, side, amount, price, params)


def one_way_core(tag: str) -> SymbolCore:
    rules = make_rules(max_close_attempts=MAX_ATTEMPTS, close_backoff_initial_s=1.0,
                       close_backoff_max_s=BACKOFF_MAX_S)
    return SymbolCore(dataclasses.replace(rules, id_tag=tag))


def grid_core(tag: str) -> GridCore:
    market = MarketRules(amount_step=D("0.001"), price_tick=D("0.1"), min_amount=D("0.001"),
                         min_cost=D(5))
    return GridCore(GridRules(
        symbol=SYM, account="acc", id_tag=tag, market=market, order_size_usdt=D(100), levels=3,
        step_pct=D(1), size_multiplier=D(1), take_profit_pct=D("0.5"), stop_loss_pct=D(5),
        recalc_pct=D(2), leverage=5, max_close_attempts=MAX_ATTEMPTS,
        close_backoff_initial_s=1.0, close_backoff_max_s=BACKOFF_MAX_S))


class Bot:
    """One symbol's production DecisionLoop on the faulty fake venue and real SQLite."""

    def __init__(self, tmp: Path, style: str) -> None:
        self.tmp, self.style, self.t = tmp, style, 1_700_000_000.0
        self.venue = Venue()
        self.fx = FaultyExchange(self.venue)
        self.repo = Repository(tmp / "bot.sqlite", synchronous="normal", clock=self.now)
        self.escalations: list[Escalate] = []
        make = one_way_core if style == "one_way" else grid_core
        self.loop = DecisionLoop(SYM, core=as_core(make(self.repo.id_tag)), exchange=self.fx,
                                 repo=self.repo, log=Log(),
                                 on_escalate=lambda s, e: self.escalations.append(e),
                                 clock=self.now)
        if style == "grid":  # its stops are refused: the long leg is unprotected when the
            self.fx.before["create_order"] = refuse_stops  # price crosses its stop level
        self.loop.start()  # the grid opens both legs here (the venue's price is 100)

    def now(self) -> float:
        return self.t

    def tick(self, price: str) -> None:
        self.t += 1
        self.venue.mark = D(price)
        self.loop.handle(Tick(price=D(price)))

    def run(self, seconds: int) -> None:
        """`seconds` of 1 s timers, and the periodic reconciliation every 30 s."""
        for i in range(seconds):
            self.t += 1
            self.loop.handle(Timer())
            if i % 30 == 29:
                self.loop.handle(Reconcile(reason="periodic"))

    def calls(self, name: str) -> int:
        return self.fx.calls.get(name, 0)

    def position_tracked(self) -> bool:
        state = self.loop.state
        return state.long.is_open if self.style == "grid" else state.position is not None

    def closes(self) -> list[str]:
        return [cid for cid in self.venue.orders if cid.endswith("c")]

    def ledger(self) -> dict[str, tuple[D, D, D]]:
        """Booked amount, fee and realized P&L per client order id."""
        with sqlite3.connect(self.tmp / "bot.sqlite") as c:
            rows = c.execute("SELECT client_order_id, amount, fee, realized_pnl FROM fills")
            return per_order((cid, D(str(a)), D(str(f)), D(str(p))) for cid, a, f, p in rows)

    def journal(self, type_: str) -> list[dict[str, Any]]:
        with sqlite3.connect(self.tmp / "bot.sqlite") as c:
            rows = c.execute("SELECT data FROM events WHERE type = ?", (type_,)).fetchall()
        return [json.loads(r[0]) for r in rows]

    def venue_fills(self) -> dict[str, tuple[D, D, D]]:
        return per_order((t.client_order_id, t.amount, t.fee_cost, t.realized_pnl)
                         for t in self.venue.trades)


def per_order(rows: Iterable[tuple[str, D, D, D]]) -> dict[str, tuple[D, D, D]]:
    out: dict[str, tuple[D, D, D]] = {}
    for cid, amount, fee, pnl in rows:
        a, f, p = out.get(cid, (D(0), D(0), D(0)))
        out[cid] = (a + amount, f + fee, p + pnl)
    return out


def refuse_stops(name: str, args: tuple, kwargs: dict) -> None:
    if "stopLossPrice" in (args[5] if len(args) > 5 else kwargs.get("params") or {}):
        raise errors.InvalidOrder("stop refused")


def raise_(exc: BaseException) -> Callable[..., None]:
    def hook(*_args: Any) -> None:
        raise exc
    return hook


def open_and_close(bot: Bot, close_fault: BaseException, lookup: Callable[..., None]) -> None:
    """Open a position (one-way) or both legs (grid), then start a close whose create_order
    raises `close_fault` after the order reached the venue and filled there; from then on
    every fetch_order runs `lookup` first."""
    def after_close(name: str, args: tuple, kwargs: dict, result: Any) -> None:
        if is_close_order(args, kwargs):
            raise close_fault

    if bot.style == "one_way":
        bot.tick("100")
        bot.loop.handle(ExternalSignal(side=Side.LONG, signal_id="in"))
        assert bot.loop.state.phase is Phase.OPEN
        bot.fx.after["create_order"] = after_close
        bot.fx.before["fetch_order"] = lookup
        bot.loop.handle(ExternalSignal(side=None, signal_id="out"))  # the strategy's exit
    else:
        bot.tick("100")
        assert bot.loop.state.long.is_open and bot.loop.state.short.is_open
        assert not bot.loop.state.protected(Side.LONG)
        bot.fx.after["create_order"] = after_close
        bot.fx.before["fetch_order"] = lookup
        bot.tick("94")  # through the long leg's stop (95): the grid closes the leg itself
    assert len(bot.closes()) == 1
    assert bot.venue.pos[PositionSide.NET if bot.style == "one_way" else PositionSide.LONG].qty == 0


@pytest.fixture(params=["one_way", "grid"])
def bot(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bot]:
    b = Bot(tmp_path, request.param)
    try:
        yield b
    finally:
        b.repo.close()


def assert_booked_once_when_readable(bot: Bot) -> None:
    """The bug fixed, a reconciliation reads the exchange: the close's fill is booked (once)
    and only then the position is let go."""
    bot.fx.before.clear()
    bot.fx.after.clear()
    bot.loop.handle(Reconcile(reason="periodic"))
    assert bot.loop.reconciled
    assert not bot.position_tracked()
    assert bot.ledger() == bot.venue_fills()


def test_a_close_whose_lookup_raises_a_bug_is_counted_and_escalates(bot: Bot):
    open_and_close(bot, TypeError(BUG), raise_(TypeError(BUG)))  # every lookup: the same bug
    # the close is a failed attempt at once (it may have landed: reconciliation will tell)
    first = bot.closes()[0]
    assert bot.loop.state.order(first) is None
    failed = [e["error"] for e in bot.journal("OrderFailed") if e["order"] == first]
    assert failed == [f"TypeError: {BUG}; its lookup failed: TypeError: {BUG}"]
    reads = bot.calls("fetch_positions")
    bot.run(WINDOW_S)
    # escalated once (quarantine, the supervisor's alert and emergency close), within the bound
    assert len(bot.escalations) == 1 and bot.escalations[0].close
    assert bot.loop.state.quarantined
    assert bot.loop.view.quarantined
    assert len(bot.closes()) <= MAX_ATTEMPTS
    # no loop: the failed reconciliations back off (1, 2, 4, 8, 8, ... s) instead of every tick
    assert bot.calls("fetch_positions") - reads <= WINDOW_S // BACKOFF_MAX_S + 12
    assert not bot.loop.reconciled
    # never forgotten: the position stays tracked until the exchange can be read
    assert bot.position_tracked()
    assert_booked_once_when_readable(bot)


def test_reconciliation_failing_with_a_bug_while_a_close_is_pending_escalates(bot: Bot):
    """The close's answer timed out and so did its lookups: its outcome is unknown, it stays
    pending for reconciliation; which then fails on a bug every time."""
    lookups = iter(range(10**6))

    def timeouts_then_bug(*_args: Any) -> None:
        if next(lookups) < 3:  # the executor's three lookups of the close
            raise errors.RequestTimeout("no answer")
        raise TypeError(BUG)

    open_and_close(bot, errors.RequestTimeout("no answer"), timeouts_then_bug)
    assert bot.loop.state.order(bot.closes()[0]) is not None  # pending: outcome unknown
    bot.run(WINDOW_S)
    assert len(bot.escalations) == 1 and bot.escalations[0].close
    assert "reconciliation failed 3 times while closing" in bot.escalations[0].reason
    assert bot.loop.state.quarantined
    assert bot.position_tracked()
    assert_booked_once_when_readable(bot)


def test_temporary_errors_keep_retrying_with_backoff_and_never_escalate(bot: Bot):
    open_and_close(bot, errors.RequestTimeout("no answer"),
                   raise_(errors.NetworkError("connection reset")))
    bot.loop.handle(Reconcile(reason="periodic"))
    reads = bot.calls("fetch_positions")
    bot.run(600)
    assert bot.escalations == [] and not bot.loop.state.quarantined
    retries = bot.calls("fetch_positions") - reads
    # temporary failures only: the close backoff, capped at TEMPORARY_MAX_WAIT_S (5 s < 8 s)
    assert 600 // TEMPORARY_MAX_WAIT_S <= retries <= 600 // TEMPORARY_MAX_WAIT_S + 30
    assert bot.position_tracked()
    bot.fx.before.clear()  # the outage ends: seen within TEMPORARY_MAX_WAIT_S, not the backoff
    bot.run(int(TEMPORARY_MAX_WAIT_S) + 1)  # the next retry reads the exchange, books the close
    assert bot.loop.reconciled and not bot.position_tracked()
    assert bot.ledger() == bot.venue_fills()
    assert bot.escalations == []


def test_the_whole_bot_escalates_alerts_and_shows_it_in_the_status_dump(tmp_path: Path):
    """The reviewer's demo on the paper exchange under the real supervisor."""
    box: dict[str, FaultyExchange] = {}

    def wrap(paper: Any) -> FaultyExchange:
        box["fx"] = FaultyExchange(paper)
        return box["fx"]

    def bug_after_sending_a_close(name: str, args: tuple, kwargs: dict, result: Any) -> None:
        if is_close_order(args, kwargs):
            raise TypeError(BUG)

    h = Harness(tmp_path, [SYM], wrap=wrap, risk={
        "max_close_attempts": MAX_ATTEMPTS, "close_backoff_initial_s": 1.0,
        "close_backoff_max_s": BACKOFF_MAX_S}).start()
    try:
        fx = box["fx"]
        h.poll()
        assert h.signal(SYM, Side.LONG)
        h.idle(SYM)
        fx.after["create_order"] = bug_after_sending_a_close
        fx.before["fetch_order"] = raise_(TypeError(BUG))
        h.signal(SYM, None)
        h.idle(SYM)
        reads = fx.calls.get("fetch_positions", 0)
        for i in range(WINDOW_S):
            h.clock.advance(1.0)
            h.sup.tell(SYM, Timer())
            if i % 30 == 29:
                h.sup.tell(SYM, Reconcile())
            h.idle(SYM)
        wait_until(lambda: queries.open_escalations(), timeout=30, message="an escalation")
        assert [e["symbol"] for e in queries.open_escalations()] == [SYM]
        # the actor writes the rows; the supervisor alerts when it takes the message after them
        wait_until(lambda: [a for a in h.alerts.sent if a["kind"] == "escalation"], timeout=30,
                   message="the escalation alerted")
        assert [a["symbol"] for a in h.alerts.sent if a["kind"] == "escalation"] == [SYM]
        status = build_status(h.sup, {}, h.clock(), queries.open_escalations())
        entry = next(a for a in status["actors"] if a["symbol"] == SYM)
        assert entry["state"] == "quarantined" and entry["position"] is not None
        assert [e["symbol"] for e in status["escalations"]] == [SYM]
        assert fx.calls.get("fetch_positions", 0) - reads <= WINDOW_S // BACKOFF_MAX_S + 20
        # the bug fixed, a reconciliation books the close from the exchange's fill: the loss the
        # exchange realized, once, and only then the position is let go
        fx.before.clear()
        fx.after.clear()
        h.sup.tell(SYM, Reconcile())
        h.idle(SYM)
        view = h.view(SYM)
        assert view.reconciled and view.phase == "flat" and view.position is None
        assert queries.ledger_net_pnl(SYM) == h.paper.realized_pnl_total(SYM) < 0
    finally:
        h.stop()
