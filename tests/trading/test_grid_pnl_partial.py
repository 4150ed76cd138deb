"""A hedge-grid take-profit that fills in parts is booked with the exchange's realized P&L, once.

The exchange reports an order's realized P&L cumulatively (the sum over its fills so far). When
the order's trades are unreadable for a moment, the part that was new is booked with the P&L
the core computes; whatever was booked, from either source, counts as booked for the order, so
the next cumulative report books only the difference. Before the fix the core's part was not
counted: the next report booked the exchange's cumulative P&L in full, the first part twice.

Production classes: DecisionLoop with the grid core and its GridExecutor, a real SQLite
Repository, and a fake hedge venue (below) injected through the loop's constructor: it fills
resting orders in parts, as a real venue does and the paper exchange does not, and reports
each fill's realized P&L like Binance."""

from __future__ import annotations

import itertools
import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from loguru import logger

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import OrderActivity, Reconcile, Tick
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
from trading.grid.core import GridCore
from trading.grid.model import GridKind
from trading.grid.rules import GridRules
from trading.model import Side
from trading.rules import MarketRules

SYM = "BTC/USDT:USDT"
FEE_RATE = D("0.0005")
ZERO = D(0)


@dataclass
class _Order:
    id: str
    cid: str
    side: str
    type: str
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
class _Position:
    qty: D = ZERO
    entry: D = ZERO


@dataclass
class HedgeVenue:
    """A hedge-mode venue: market orders fill at the mark, resting orders fill when the test
    says, in parts; `fail` makes the named calls raise a network error that many times."""

    symbol: str
    mark: D = D(100)
    orders: dict[str, _Order] = field(default_factory=dict)
    pos: dict[PositionSide, _Position] = field(
        default_factory=lambda: {PositionSide.LONG: _Position(), PositionSide.SHORT: _Position()})
    trades: list[VenueFill] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)
    ids: Any = field(default_factory=lambda: itertools.count(1))
    id = "hedgevenue"

    def _maybe_fail(self, name: str) -> None:
        if self.fail.get(name, 0) > 0:
            self.fail[name] -= 1
            raise errors.NetworkError(f"{name}: injected network error")

    def fill(self, cid: str, qty: D | None = None) -> None:
        """Fill `qty` of a resting order (all that is left by default) at its price."""
        o = self.orders[cid]
        qty = o.amount - o.filled if qty is None else qty
        price = o.price if o.price is not None else o.trigger
        assert price is not None
        self._execute(o, qty, price)

    def _execute(self, o: _Order, qty: D, price: D) -> None:
        p = self.pos[o.pside]
        long = o.pside is PositionSide.LONG
        realized = ZERO
        if (o.side == "buy") == long:
            p.entry = (p.entry * p.qty + price * qty) / (p.qty + qty) if p.qty else price
            p.qty += qty
        else:
            qty = min(qty, p.qty)
            realized = (price - p.entry) * qty * (1 if long else -1)
            p.qty -= qty
        fee = qty * price * FEE_RATE
        o.filled, o.cost, o.fee = o.filled + qty, o.cost + qty * price, o.fee + fee
        if o.filled >= o.amount:
            o.status = "closed"
        self.trades.append(VenueFill(
            id=str(len(self.trades) + 1), order_id=o.id, client_order_id=o.cid,
            symbol=self.symbol, side=o.side, price=price, amount=qty,
            fee=Fee(cost=fee, currency="USDT"), realized_pnl=realized, position_side=o.pside))

    def _view(self, o: _Order) -> VenueOrder:
        return VenueOrder(
            id=o.id, client_order_id=o.cid, symbol=self.symbol, side=o.side, type=o.type,
            status=VenueOrderStatus(o.status), amount=o.amount, filled=o.filled,
            average=(o.cost / o.filled) if o.filled else None, price=o.price,
            trigger_price=o.trigger, reduce_only=o.reduce_only, position_side=o.pside,
            fee=Fee(cost=o.fee, currency="USDT"))

    # -- the exchange port -----------------------------------------------------------------
    def create_order(self, symbol, type, side, amount, price=None, params=None):
        self._maybe_fail("create_order")
        params = params or {}
        cid = params["clientOrderId"]
        o = _Order(id=f"v{next(self.ids)}", cid=cid, side=side, type=type, amount=D(amount),
                   price=price, trigger=params.get("stopLossPrice"),
                   reduce_only=bool(params.get("reduceOnly")),
                   pside=PositionSide.from_idx(params.get("positionIdx", 0)))
        self.orders[cid] = o
        if type == "market" and o.trigger is None:
            self._execute(o, o.amount, self.mark)
        return self._view(o)

    def cancel_order(self, id, symbol, params=None):
        self._maybe_fail("cancel_order")
        o = self.orders.get((params or {}).get("clientOrderId"))
        if o is None or o.status != "open":
            raise errors.OrderNotFound("not open")
        o.status = "canceled"
        return self._view(o)

    def fetch_order(self, id, symbol, params=None):
        self._maybe_fail("fetch_order")
        o = self.orders.get((params or {}).get("clientOrderId"))
        if o is None:
            raise errors.OrderNotFound("unknown")
        return self._view(o)

    def fetch_open_orders(self, symbol=None, since=None, limit=None, params=None):
        return [self._view(o) for o in self.orders.values() if o.status == "open"]

    def fetch_positions(self, symbols=None, params=None):
        return [VenuePosition(symbol=self.symbol, side=ps.value, contracts=p.qty,
                              entry_price=p.entry, position_side=ps, hedged=True)
                for ps, p in self.pos.items() if p.qty > 0]

    def fetch_my_trades(self, symbol=None, since=None, limit=None, params=None):
        self._maybe_fail("fetch_my_trades")
        return list(self.trades)

    def fetch_tickers(self, symbols=None, params=None):
        return {self.symbol: VenueTicker(symbol=self.symbol, last=self.mark)}

    def fetch_balance(self, params=None):
        return VenueBalance(currencies={"USDT": Funds(free=D(100000), used=ZERO,
                                                       total=D(100000))})


class Clock:
    def __init__(self) -> None:
        self.t = 1_700_000_000.0

    def __call__(self) -> float:
        return self.t


class Bot:
    """One grid symbol: the production decision loop on the fake venue, a real SQLite file."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.venue = HedgeVenue(SYM)
        self.clock = Clock()
        self.repo = Repository(tmp / "bot.sqlite", synchronous="normal", clock=self.clock)
        rules = GridRules(
            symbol=SYM, account="acc", id_tag=self.repo.id_tag,
            market=MarketRules(amount_step=D("0.001"), price_tick=D("0.1"),
                               min_amount=D("0.001"), min_cost=D(5)),
            order_size_usdt=D(100), levels=3, step_pct=D(1), size_multiplier=D(1),
            take_profit_pct=D("0.5"), stop_loss_pct=D(5), recalc_pct=D(2), leverage=5)
        self.loop = DecisionLoop(SYM, core=as_core(GridCore(rules)), exchange=self.venue,
                                 repo=self.repo, log=logger, clock=self.clock,
                                 on_escalate=lambda symbol, escalation: None)
        self.loop.start()

    def close(self) -> None:
        self.repo.close()

    def tick(self, price: str) -> None:
        self.clock.t += 1
        self.venue.mark = D(price)
        self.loop.handle(Tick(price=D(price)))

    def activity(self, cid: str) -> None:
        self.clock.t += 1
        self.loop.handle(OrderActivity(client_order_ids=(cid,)))

    def reconcile(self) -> None:
        self.clock.t += 1
        self.loop.handle(Reconcile(reason="periodic"))

    def long_take_profit(self) -> str:
        """The long's take-profit (1 contract at 100.5 after the legs open at 100)."""
        self.tick("100")
        tp = self.loop.state.orders_of(Side.LONG, GridKind.TP)[0]
        assert (tp.amount, tp.price) == (D(1), D("100.5"))
        self.venue.mark = D("100.5")
        return tp.client_order_id

    def ledger(self) -> dict[str, tuple[D, D, D]]:
        with sqlite3.connect(self.tmp / "bot.sqlite") as c:
            rows = c.execute("SELECT client_order_id, amount, fee, realized_pnl FROM fills")
            return _per_order(rows.fetchall())

    def exchange(self) -> dict[str, tuple[D, D, D]]:
        return _per_order((t.client_order_id, t.amount, t.fee.cost if t.fee else ZERO,
                           t.realized_pnl) for t in self.venue.trades)

    def long_closed_pnl(self) -> list[D]:
        with sqlite3.connect(self.tmp / "bot.sqlite") as c:
            rows = c.execute("SELECT data FROM events WHERE type='LegClosed'").fetchall()
        return [D(d["realized_pnl"]) for d in map(json.loads, (r[0] for r in rows))
                if d["leg"] == "long"]


def _per_order(rows) -> dict[str, tuple[D, D, D]]:
    """Per client order id: amount, fee and realized P&L summed over its fills."""
    out: dict[str, list[D]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for cid, amount, fee, pnl in rows:
        o = out[cid]
        o[0] += D(str(amount))
        o[1] += D(str(fee))
        o[2] += D(str(pnl))
    return {k: tuple(v) for k, v in out.items()}


def _filled(bot: Bot, cid: str) -> D:
    order = bot.loop.state.order(cid)
    return order.filled if order is not None else D(-1)


def test_a_part_priced_by_the_core_is_not_booked_again_with_the_next_cumulative_report(
        tmp_path: Path) -> None:
    bot = Bot(tmp_path)
    try:
        tp = bot.long_take_profit()
        bot.venue.fill(tp, D("0.4"))  # 0.4 at 100.5: the exchange books 0.2
        # its trades are unreadable once (the core prices the part: 0.2); the stop and
        # take-profit replacements fail, so the old take-profit keeps resting for the rest
        bot.venue.fail = {"fetch_my_trades": 1, "create_order": 2}
        bot.activity(tp)
        assert _filled(bot, tp) == D("0.4") and bot.venue.fail["fetch_my_trades"] == 0
        bot.venue.fill(tp)  # the rest, 0.6 at 100.5: the exchange books 0.3 (0.5 in all)
        bot.activity(tp)
        assert not bot.loop.state.long.is_open
        assert bot.ledger()[tp] == bot.exchange()[tp] == (D(1), D("0.050250"), D("0.5"))
        assert bot.ledger() == bot.exchange()
        assert bot.long_closed_pnl() == [D("0.5")]
    finally:
        bot.close()


def test_a_part_priced_by_the_core_between_two_exchange_reports_is_booked_once(
        tmp_path: Path) -> None:
    """The mirror case: the first part carries the exchange's P&L, the second the core's, the
    third the exchange's cumulative P&L of all three."""
    bot = Bot(tmp_path)
    try:
        tp = bot.long_take_profit()
        bot.venue.fail = {"create_order": 100}  # no replacement rests: the old take-profit fills
        bot.venue.fill(tp, D("0.3"))  # the exchange books 0.15, and reports it
        bot.activity(tp)
        bot.venue.fill(tp, D("0.3"))  # 0.15 again, unreadable: the core books its own 0.15
        bot.venue.fail["fetch_my_trades"] = 1
        bot.activity(tp)
        assert _filled(bot, tp) == D("0.6") and bot.venue.fail["fetch_my_trades"] == 0
        bot.venue.fill(tp)  # 0.4: 0.2, reported as 0.5 for the order
        bot.activity(tp)
        assert not bot.loop.state.long.is_open
        assert bot.ledger()[tp][2] == D("0.5")
        assert bot.ledger() == bot.exchange()
        assert bot.long_closed_pnl() == [D("0.5")]
    finally:
        bot.close()


def test_the_rest_found_by_reconciliation_books_only_what_the_core_did_not(
        tmp_path: Path) -> None:
    """The rest of the order is found by a periodic reconciliation, with the exchange's
    cumulative P&L from its trades (actors/grid_snapshot.py)."""
    bot = Bot(tmp_path)
    try:
        tp = bot.long_take_profit()
        bot.venue.fill(tp, D("0.4"))
        bot.venue.fail = {"fetch_my_trades": 1, "create_order": 2}
        bot.activity(tp)
        assert _filled(bot, tp) == D("0.4") and bot.venue.fail["fetch_my_trades"] == 0
        bot.venue.fill(tp)
        bot.reconcile()
        assert not bot.loop.state.long.is_open
        assert bot.ledger()[tp][2] == D("0.5")
        assert bot.ledger() == bot.exchange()
        assert bot.long_closed_pnl() == [D("0.5")]
    finally:
        bot.close()
