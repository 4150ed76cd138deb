"""A cancel of a partly filled order: the venue (Binance, Bybit) cancels the rest and answers
with the order and what filled. That fill may not have been reported yet: once the cancel has
taken the order out of the state, its late report finds nothing. So the executor books the
answer's fill as the order's final fill (nothing filled: the cancel); an answer that does not
say what filled (sparse, malformed) is checked by looking the order up. Both styles share the
executor: the one-way core (an old stop partly filled when the trailing stop replaces it) and
the hedge grid (a level partly filled when the other leg's take-profit cancels the pending
levels). Production DecisionLoop and cores, real SQLite Repository, a fake venue given to the
loop's constructor."""

from __future__ import annotations

import dataclasses
import itertools
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, OrderActivity, Reconcile, Tick
from exchange import errors
from exchange.records import (
    Fee,
    Funds,
    PositionSide,
    VenueBalance,
    VenueFill,
    VenueOrder,
    VenueOrderStatus,
    VenuePosition,
    VenueTicker,
)
from storage.repository import Repository
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.events import OrderFilled
from trading.grid.core import GridCore
from trading.grid.model import GridKind
from trading.grid.rules import GridRules
from trading.model import OrderPurpose, Side
from trading.rules import MarketRules

SYM = "BTC/USDT:USDT"
ZERO = D(0)
FEE_RATE = D("0.0005")


@dataclass
class Pos:
    long: bool | None  # None: a flat one-way position (either side opens it)
    qty: D = ZERO
    entry: D = ZERO


@dataclass
class Rec:
    id: str
    cid: str
    side: str
    amount: D
    price: D | None
    trigger: D | None
    reduce_only: bool
    pside: PositionSide
    status: str = "open"
    filled: D = ZERO
    cost: D = ZERO
    fee: D = ZERO


@dataclass
class Venue:
    """Resting orders fill in part when the test says so; a cancel of an open order succeeds and
    answers with the order (`answer` turns it into a sparse or malformed answer)."""

    mark: D = D(100)
    orders: dict[str, Rec] = field(default_factory=dict)
    pos: dict[PositionSide, Pos] = field(default_factory=lambda: {
        PositionSide.NET: Pos(None), PositionSide.LONG: Pos(True), PositionSide.SHORT: Pos(False)})
    trades: list[VenueFill] = field(default_factory=list)
    answer: Callable[[VenueOrder], Any] = lambda order: order
    lookup_fails: set[str] = field(default_factory=set)  # the next lookup of these fails
    partial_entry: D | None = None  # the next market entry fills this only (the rest executing)
    ids: Any = field(default_factory=lambda: itertools.count(1))

    def fill(self, cid: str, qty: D | None = None, price: D | None = None) -> None:
        o = self.orders[cid]
        qty = o.amount - o.filled if qty is None else qty
        price = price or o.price or o.trigger or self.mark
        p = self.pos[o.pside]
        if o.pside is PositionSide.NET and p.qty == ZERO:
            p.long = o.side == "buy"
        realized = ZERO
        if (o.side == "buy") == p.long:
            p.entry = (p.entry * p.qty + price * qty) / (p.qty + qty)
            p.qty += qty
        else:
            qty = min(qty, p.qty)
            realized = (price - p.entry) * qty * (1 if p.long else -1)
            p.qty -= qty
        fee = qty * price * FEE_RATE
        o.filled, o.cost, o.fee = o.filled + qty, o.cost + qty * price, o.fee + fee
        o.status = "closed" if o.filled >= o.amount else o.status
        self.trades.append(VenueFill(
            id=str(len(self.trades) + 1), order_id=o.id, client_order_id=cid, symbol=SYM,
            side=o.side, price=price, amount=qty, fee=Fee(cost=fee, currency="USDT"),
            realized_pnl=realized, position_side=o.pside))

    def _view(self, o: Rec) -> VenueOrder:
        return VenueOrder(
            id=o.id, client_order_id=o.cid, symbol=SYM, side=o.side,
            type="limit" if o.price else "market", status=VenueOrderStatus(o.status),
            amount=o.amount, filled=o.filled, average=o.cost / o.filled if o.filled else None,
            price=o.price, trigger_price=o.trigger, reduce_only=o.reduce_only,
            position_side=o.pside, fee=Fee(cost=o.fee, currency="USDT"))

    def create_order(self, symbol, type, side, amount, price=None, params=None):
        p = params or {}
        o = Rec(id=f"v{next(self.ids)}", cid=p["clientOrderId"], side=side, amount=D(amount),
                price=price, trigger=p.get("stopLossPrice"),
                reduce_only=bool(p.get("reduceOnly")),
                pside=PositionSide.from_idx(p.get("positionIdx", 0)))
        self.orders[o.cid] = o
        if type == "market" and o.trigger is None:
            part = None if o.reduce_only else self.partial_entry
            if part is not None:
                self.partial_entry = None
            self.fill(o.cid, part, price=self.mark)
        return self._view(o)

    def cancel_order(self, id, symbol, params=None):
        o = self.orders.get((params or {}).get("clientOrderId"))
        if o is None or o.status != "open":
            raise errors.OrderNotFound("not open")
        o.status = "canceled"  # the rest is cancelled; what filled stays filled
        return self.answer(self._view(o))

    def fetch_order(self, id, symbol, params=None):
        cid = (params or {}).get("clientOrderId")
        if cid in self.lookup_fails:
            self.lookup_fails.discard(cid)
            raise errors.NetworkError("injected")
        o = self.orders.get(cid)
        if o is None:
            raise errors.OrderNotFound("unknown")
        return self._view(o)

    def fetch_open_orders(self, symbol=None, since=None, limit=None, params=None):
        return [self._view(o) for o in self.orders.values() if o.status == "open"]

    def fetch_positions(self, symbols=None, params=None):
        return [VenuePosition(symbol=SYM, side="long" if p.long else "short", contracts=p.qty,
                              entry_price=p.entry, position_side=ps,
                              hedged=ps is not PositionSide.NET)
                for ps, p in self.pos.items() if p.qty > 0]

    def fetch_my_trades(self, symbol=None, since=None, limit=None, params=None):
        return list(self.trades)

    def fetch_tickers(self, symbols=None, params=None):
        return {SYM: VenueTicker(symbol=SYM, last=self.mark)}

    def fetch_balance(self, params=None):
        return VenueBalance(currencies={"USDT": Funds(free=D(10**5), used=ZERO, total=D(10**5))})


class Log:
    """Keeps the warnings; drops the rest."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def warning(self, text: str, *args: Any) -> None:
        self.warnings.append(text.format(*args))

    def __getattr__(self, _name: str) -> Callable[..., None]:
        return lambda *args, **kwargs: None


class Bot:
    """One symbol's production DecisionLoop on the fake venue and a real SQLite Repository."""

    def __init__(self, tmp: Path, make_core: Callable[[str], Any],
                 venue: Venue | None = None) -> None:
        self.tmp, self.venue, self.t, self.log = tmp, venue or Venue(), 1_700_000_000.0, Log()
        self.repo = Repository(tmp / "bot.sqlite", synchronous="normal", clock=self.now)
        self.loop = DecisionLoop(SYM, core=as_core(make_core(self.repo.id_tag)),
                                 exchange=self.venue, repo=self.repo, log=self.log,
                                 on_escalate=lambda s, e: None, clock=self.now)
        self.other = ""  # the order whose report leads to the cancel (grid)
        self.loop.start()

    def now(self) -> float:
        return self.t

    def send(self, message: Any) -> None:
        self.t += 1
        self.loop.handle(message)

    def tick(self, price: str) -> None:
        self.venue.mark = D(price)
        self.send(Tick(price=D(price)))

    def ledger(self) -> dict[str, tuple[D, D, D]]:
        with sqlite3.connect(self.tmp / "bot.sqlite") as c:
            rows = c.execute("SELECT client_order_id, amount, fee, realized_pnl FROM fills")
            return _per_order(rows.fetchall())

    def venue_fills(self) -> dict[str, tuple[D, D, D]]:
        return _per_order((t.client_order_id, t.amount, t.fee_cost, t.realized_pnl)
                          for t in self.venue.trades)

    def rows(self, cid: str) -> int:
        with sqlite3.connect(self.tmp / "bot.sqlite") as c:
            return c.execute("SELECT count(*) FROM fills WHERE client_order_id = ?",
                             (cid,)).fetchone()[0]

    def journal(self, type_: str) -> list[str]:
        with sqlite3.connect(self.tmp / "bot.sqlite") as c:
            rows = c.execute("SELECT data FROM events WHERE type = ?", (type_,)).fetchall()
        return [r[0] for r in rows]


def _per_order(rows: Any) -> dict[str, tuple[D, D, D]]:
    out: dict[str, list[D]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for cid, amount, fee, pnl in rows:
        o = out[cid]
        o[0], o[1], o[2] = o[0] + D(str(amount)), o[1] + D(str(fee)), o[2] + D(str(pnl))
    return {k: (v[0], v[1], v[2]) for k, v in out.items()}


def one_way(tmp: Path, venue: Venue | None = None) -> Bot:
    return Bot(tmp, lambda tag: SymbolCore(dataclasses.replace(make_rules(), id_tag=tag)), venue)


def grid(tmp: Path, venue: Venue | None = None) -> Bot:
    def core(tag: str) -> GridCore:
        market = MarketRules(amount_step=D("0.001"), price_tick=D("0.1"), min_amount=D("0.001"),
                             min_cost=D(5))
        return GridCore(GridRules(
            symbol=SYM, account="acc", id_tag=tag, market=market, order_size_usdt=D(100),
            levels=3, step_pct=D(1), size_multiplier=D(1), take_profit_pct=D("0.5"),
            stop_loss_pct=D(5), recalc_pct=D(2), leverage=5))
    return Bot(tmp, core, venue)


# -- the two styles: a partly filled order of ours, then the decision that cancels it ---------
def one_way_partly_filled_stop(bot: Bot) -> str:
    """Long 1 at 100, its stop at 99; a wick fills 0.4 of the stop at 99 (not reported yet)."""
    bot.tick("100")
    bot.send(ExternalSignal(side=Side.LONG, signal_id="s1"))
    stop = bot.loop.state.live_orders(OrderPurpose.STOP)[0].client_order_id
    bot.venue.fill(stop, D("0.4"), D(99))
    return stop


def one_way_cancel(bot: Bot) -> None:
    """The trailing stop activates: the new stop rests, then the old one is cancelled."""
    bot.tick("100.3")
    bot.tick("100.6")


def grid_partly_filled_level(bot: Bot) -> str:
    """Both legs open at 100; the market falls to 99: the short's take-profit (99.5) fills, the
    long's first level (1 at 99) fills 0.4 only (neither reported yet)."""
    bot.tick("100")
    level = bot.loop.state.orders_of(Side.LONG, GridKind.ADD)[0].client_order_id
    tp = bot.loop.state.orders_of(Side.SHORT, GridKind.TP)[0].client_order_id
    bot.venue.mark = D(99)
    bot.venue.fill(tp)
    bot.venue.fill(level, D("0.4"))
    bot.other = tp
    return level


def grid_cancel(bot: Bot) -> None:
    """The take-profit's report closes the short; closing a leg cancels every pending level."""
    bot.send(OrderActivity(client_order_ids=(bot.other,)))


STYLES = {
    "one_way": (one_way, one_way_partly_filled_stop, one_way_cancel),
    "grid": (grid, grid_partly_filled_level, grid_cancel),
}


@dataclass
class Case:
    """One style's bot, the order it leaves partly filled, and the step that cancels it."""

    style: str
    bot: Bot
    cancel: Callable[[Bot], None]
    cid: str = ""


@pytest.fixture(params=list(STYLES))
def case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Case]:
    make, partly_filled, cancel = STYLES[request.param]
    bot = make(tmp_path)
    try:
        yield Case(request.param, bot, cancel, partly_filled(bot))
    finally:
        bot.repo.close()


def assert_books_are_the_venues(bot: Bot) -> None:
    """Every fill booked once, with the venue's amount, fee and P&L; sizes as on the venue."""
    assert bot.ledger() == bot.venue_fills()
    state, pos = bot.loop.state, bot.venue.pos
    if hasattr(state, "long"):  # the hedge grid
        assert state.long.contracts == pos[PositionSide.LONG].qty
        assert state.short.contracts == pos[PositionSide.SHORT].qty
        assert bot.journal("LegAdjusted") == []
    else:
        assert state.position.contracts == pos[PositionSide.NET].qty
        assert bot.journal("PositionResized") == []


def test_the_fill_in_a_cancel_answer_is_booked_once_and_the_late_report_adds_nothing(
        case: Case):
    bot, cid = case.bot, case.cid
    case.cancel(bot)
    assert bot.venue.orders[cid].status == "canceled"
    assert bot.loop.state.order(cid) is None  # cancelled: it left the state, its fill booked
    assert bot.ledger()[cid] == bot.venue_fills()[cid] == (
        D("0.4"), D("0.4") * 99 * FEE_RATE, D("-0.4") if case.style == "one_way" else ZERO)
    assert_books_are_the_venues(bot)
    bot.send(OrderActivity(client_order_ids=(cid,)))  # the fill's own report, late
    bot.loop.apply(OrderFilled(client_order_id=cid, exchange_id=None, filled=D("0.4"),
                               average=D(99), fee=D("0.4") * 99 * FEE_RATE))
    bot.send(Reconcile(reason="periodic"))
    assert bot.rows(cid) == 1  # booked once, by the cancel's answer
    assert_books_are_the_venues(bot)


def test_a_fill_reported_before_the_cancel_is_not_booked_again_from_its_answer(
        case: Case):
    bot, cid = case.bot, case.cid
    bot.send(OrderActivity(client_order_ids=(cid,)))  # reported first: booked, still open
    assert bot.ledger()[cid][0] == D("0.4")
    case.cancel(bot)
    assert bot.venue.orders[cid].status == "canceled"
    assert bot.loop.state.order(cid) is None
    assert bot.rows(cid) == 1
    assert_books_are_the_venues(bot)


SPARSE = {
    "no amount (sparse)": lambda o: dataclasses.replace(
        o, amount=None, filled=ZERO, average=None, fee=None, status=VenueOrderStatus.CANCELED),
    "no fee": lambda o: dataclasses.replace(o, fee=None),
    "None": lambda o: None,
    "a raw dict": lambda o: {"id": o.id, "status": "canceled"},
}


@pytest.mark.parametrize("answer", SPARSE)
def test_a_cancel_answer_that_does_not_say_what_filled_is_checked_by_a_lookup(
        case: Case, answer: str):
    bot, cid = case.bot, case.cid
    bot.venue.answer = SPARSE[answer]
    case.cancel(bot)
    assert bot.loop.state.order(cid) is None
    looked_up = f"cancel of {cid} answered without its fills"
    assert any(w.startswith(looked_up) for w in bot.log.warnings)
    assert_books_are_the_venues(bot)


def test_an_unclear_cancel_answer_and_a_failed_lookup_leave_the_order_to_reconciliation(
        case: Case):
    bot, cid = case.bot, case.cid
    bot.venue.answer = SPARSE["None"]
    bot.venue.lookup_fails.add(cid)  # the lookup after the cancel
    case.cancel(bot)
    assert not bot.venue.lookup_fails  # the cancel was sent and its lookup failed
    assert bot.loop.state.order(cid) is not None  # unresolved, not dropped
    assert cid not in bot.ledger()
    bot.send(Reconcile(reason="periodic"))
    assert bot.loop.state.order(cid) is None
    assert_books_are_the_venues(bot)


def test_a_stale_answer_to_an_accepted_cancel_still_ends_the_order_with_its_fill(case: Case):
    """The venue accepted the cancel; an answer still showing the order open (a read racing
    the cancel) books what filled and ends the order all the same."""
    bot, cid = case.bot, case.cid
    bot.venue.answer = lambda o: dataclasses.replace(o, status=VenueOrderStatus.OPEN)
    case.cancel(bot)
    assert bot.loop.state.order(cid) is None
    assert bot.rows(cid) == 1
    assert_books_are_the_venues(bot)
