"""The backtester's simulated exchange: the paper exchange's rules without its database.

It implements the exchange port (`exchange/port.py`) with the paper exchange's own pieces:
markets and precision (`build_market`, `venue_market`), request validation (`parse_request`,
`check_against_book`), the matcher (`Matcher`: fills, fees, slippage, reduce-only cuts, trigger
and limit checks), and its record builders (`exchange/paper/models.py`: `order_view`,
`position_view`, `trade_view`), so every answer is the typed record the paper exchange gives in
the same state, and every refusal the same `exchange/errors.py` class. Only the persistence
differs: a change is installed in memory at once (no store, no thread, no lock taken, no
sleep), and there is no fault injection or latency.

Time and price are set by the driver (`at(ts_ms)`, `point(symbol, ts_ms, raw)`); nothing here
reads a clock.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from exchange import errors
from exchange.decimals import to_decimal
from exchange.paper import ledger
from exchange.paper.engine import Book, Draft, Fees, Matcher, limit_crossed, trigger_hit
from exchange.paper.markets import (
    amount_step,
    amount_to_step,
    build_market,
    price_tick,
    price_to_tick,
    round_to_tick,
    venue_market,
)
from exchange.paper.models import (
    HEDGE_SIDES,
    ONE_WAY_SIDES,
    SETTLE,
    ZERO,
    OrderRec,
    PositionRec,
    TradeRec,
    order_view,
    position_view,
    trade_view,
)
from exchange.paper.orders import check_against_book, parse_request
from exchange.paper.queries import _limited as limited  # the paper port's since / limit rule
from exchange.records import (
    Funds,
    VenueBalance,
    VenueFill,
    VenueFunding,
    VenueMarket,
    VenueOrder,
    VenuePosition,
    VenueTicker,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimSettings:
    """The paper exchange's parameters (config `[paper]` and `risk.leverage`)."""

    starting_balance: Decimal
    taker_fee: Decimal
    maker_fee: Decimal
    slippage_bps: Decimal
    leverage: int
    hedge_mode: bool = False


@dataclass(slots=True, kw_only=True)
class Fill:
    """One trade with the position side it left behind (for the equity curve and the report)."""

    trade: TradeRec
    qty_after: Decimal
    entry_after: Decimal


@dataclass(slots=True)
class _Ledger:
    wallet: Decimal
    fills: list[Fill] = field(default_factory=list)


class SimExchange:
    """One account on simulated prices, for one or more symbols."""

    id = "backtest"
    send_grace_s = 0.0
    """In our process: a create is synchronous, a lookup consistent at once (exchange/port.py)."""

    def __init__(self, settings: SimSettings, initial_prices: dict[str, Decimal]) -> None:
        self.settings = settings
        fees = Fees(settings.taker_fee, settings.maker_fee, settings.slippage_bps,
                    settings.leverage)
        sides = HEDGE_SIDES if settings.hedge_mode else ONE_WAY_SIDES
        self.markets = {s: build_market(s, p, fees.maker, fees.taker)
                        for s, p in initial_prices.items()}
        """The paper exchange's market definitions (its `markets`); the port reports them as
        `VenueMarket` records (`venue_market`), built once: they never change."""
        self._venue_markets = {s: venue_market(m) for s, m in self.markets.items()}
        self._books = {s: Book(s, self.markets[s], p, 0, sides) for s, p in initial_prices.items()}
        self._ledger = _Ledger(wallet=settings.starting_balance)
        self._order_seq = itertools.count(1)
        self._trade_seq = itertools.count(1)
        self._trades: dict[str, list[TradeRec]] = {s: [] for s in initial_prices}
        """Each symbol's trades in time order (the clock only moves forward)."""
        self._done: dict[str, OrderRec] = {}
        """Finished orders by client id (the paper exchange's store lookup) ..."""
        self._done_ids: dict[str, OrderRec] = {}
        """... and by order id."""
        self._client_ids: set[str] = set()
        """Every client order id an accepted order carried (refused again as duplicates)."""
        self._matcher = Matcher(fees, lambda: next(self._trade_seq), self._free)
        self.now_ms = 0

    # ---- driver side -------------------------------------------------------------------
    def at(self, ts_ms: int) -> None:
        self.now_ms = ts_ms

    def point(self, symbol: str, ts_ms: int, raw: Decimal,
              mark: Decimal | None = None) -> list[str]:
        """Advance one symbol to a price point: resting orders act at its mark (as the paper
        exchange's catch-up does). `mark`: the raw price on the tick, when the caller has it
        (the engine computes it once per point). Returns the client ids of orders that traded."""
        book = self._books[symbol]
        before = book.mark
        book.price = raw
        book.last_ms = ts_ms
        self.now_ms = ts_ms
        if not book.open_orders:
            return []
        if mark is None:
            mark = round_to_tick(raw, book.tick)
        for order in book.open_orders.values():  # a loop, not any(genexpr): every point
            if _acts(order, mark):
                break
        else:
            return []
        draft = Draft(book, ts_ms, mark)
        self._matcher.on_point(draft, before)
        return self._install(draft)

    def show(self, symbol: str, ts_ms: int, raw: Decimal) -> None:
        """A symbol's price point at which, proved beforehand, no resting order acts (the
        replay that skips such points, backtest/skip_replay.py): `point` without the order
        check and without moving the account's clock."""
        book = self._books[symbol]
        book.price = raw
        book.last_ms = ts_ms

    def has_open_orders(self, symbol: str) -> bool:
        return bool(self._books[symbol].open_orders)

    def resting(self, symbol: str) -> list[OrderRec]:
        return list(self._books[symbol].open_orders.values())

    @property
    def fills(self) -> list[Fill]:
        return self._ledger.fills

    @property
    def wallet(self) -> Decimal:
        return self._ledger.wallet

    def _free(self) -> Decimal:
        lev = self.settings.leverage
        used = sum((b.used_margin(lev) for b in self._books.values()), ZERO)
        unrealized = sum((b.unrealized() for b in self._books.values()), ZERO)
        return self._ledger.wallet + unrealized - used

    def _install(self, d: Draft, required: Decimal | None = None) -> list[str]:
        if required is not None and self._free() < required:
            raise errors.InsufficientFunds(
                f"backtest: {d.book.symbol} needs {required:.4f} USDT of margin and fees, "
                f"free balance is {self._free():.4f} USDT")
        book = d.book
        book.positions = d.positions
        for order in d.orders.values():
            if order.is_open:
                book.open_orders[order.id] = order
            else:
                book.open_orders.pop(order.id, None)
                self._done_ids[order.id] = order
                if order.client_order_id is not None:
                    self._done[order.client_order_id] = order
        self._ledger.wallet += d.wallet_delta
        for t in d.trades:
            pos = book.positions[t.position_side]
            self._ledger.fills.append(Fill(trade=t, qty_after=pos.qty, entry_after=pos.entry))
            self._trades[book.symbol].append(t)
        return [t.client_order_id for t in d.trades if t.client_order_id]

    # ---- the port (the paper exchange's records, `exchange/paper/queries.py`) ------------
    def load_markets(self, reload: bool = False) -> dict[str, VenueMarket]:
        return dict(self._venue_markets)

    def market(self, symbol: str) -> VenueMarket:
        self._book(symbol)
        return self._venue_markets[symbol]

    def _book(self, symbol: str) -> Book:
        book = self._books.get(symbol)
        if book is None:
            raise errors.BadSymbol(f"backtest: unknown symbol {symbol!r}")
        return book

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]:
        """As the paper exchange's: the mark as last, bid and ask its slipped prices; no
        volumes (the replay gives the loops each candle's volume with the price)."""
        wanted = list(symbols) if symbols is not None else list(self._books)
        slip = self._matcher.fees.slippage_bps
        result = {}
        for symbol in wanted:
            book = self._book(symbol)
            last = book.mark
            result[symbol] = VenueTicker(
                symbol=symbol, timestamp=self.now_ms, last=last,
                bid=ledger.slipped(last, "sell", slip, book.tick),
                ask=ledger.slipped(last, "buy", slip, book.tick),
                base_volume=None, quote_volume=None,
            )
        return result

    def create_order(self, symbol: str, type: str, side: str, amount: Decimal,
                     price: Decimal | None = None,
                     params: dict[str, Any] | None = None) -> VenueOrder:
        book = self._book(symbol)
        req = parse_request(book.market, type, side, amount, price, dict(params or {}),
                            hedge_mode=self.settings.hedge_mode)
        check_against_book(req, book.mark, book.positions[req.position_side].qty)
        if req.client_id is not None and req.client_id in self._client_ids:
            raise errors.InvalidOrder(
                f"backtest: duplicate clientOrderId {req.client_id!r} ({req.symbol})")
        d = Draft(book, self.now_ms, book.mark)
        seq = next(self._order_seq)
        order = d.add(OrderRec(
            seq=seq, id=str(seq), client_order_id=req.client_id, symbol=req.symbol,
            type=req.type, side=req.side, amount=req.amount, price=req.price,
            reduce_only=req.reduce_only, created_ms=self.now_ms, trigger_price=req.trigger_price,
            trigger_direction=req.trigger_direction, stop_loss_price=req.stop_loss_price,
            updated_ms=self.now_ms, position_side=req.position_side,
        ))
        required = self._matcher.arrive(d, order)
        self._install(d, required)
        if req.client_id is not None:
            self._client_ids.add(req.client_id)
        return order_view(d.orders[order.id])

    def cancel_order(self, id: str | None, symbol: str,
                     params: dict[str, Any] | None = None) -> VenueOrder:
        client_id = (params or {}).get("clientOrderId")
        if id is None and client_id is None:
            raise errors.BadRequest(
                "backtest: cancel_order needs an id or params['clientOrderId']")
        book = self._book(symbol)
        order = book.find_open(id, client_id)
        if order is None:
            raise errors.OrderNotFound(
                f"backtest: {symbol} order {id or client_id} is not open "
                "(unknown, filled or already canceled)")
        d = Draft(book, self.now_ms, book.mark)
        self._matcher.finish(d, order, "canceled")
        self._install(d)
        return order_view(d.orders[order.id])

    def fetch_order(self, id: str | None, symbol: str,
                    params: dict[str, Any] | None = None) -> VenueOrder:
        client_id = (params or {}).get("clientOrderId")
        if id is None and client_id is None:
            raise errors.BadRequest("backtest: fetch_order needs an id or params['clientOrderId']")
        book = self._book(symbol)
        order = book.find_open(id, client_id)
        if order is None and id is not None:  # the paper store's lookup: by id when given,
            order = self._done_ids.get(id)
        elif order is None and client_id is not None:  # else by client id
            order = self._done.get(client_id)
        if order is None or order.symbol != symbol:
            raise errors.OrderNotFound(f"backtest: {symbol} order {id or client_id} not found")
        return order_view(order)

    def fetch_open_orders(self, symbol: str | None = None, since: int | None = None,
                          limit: int | None = None,
                          params: dict[str, Any] | None = None) -> list[VenueOrder]:
        books = [self._book(symbol)] if symbol is not None else list(self._books.values())
        orders = sorted((o for b in books for o in b.open_orders.values()), key=lambda o: o.seq)
        return limited([order_view(o) for o in orders], since, limit)

    def fetch_positions(self, symbols: list[str] | None = None,
                        params: dict[str, Any] | None = None) -> list[VenuePosition]:
        """Open positions; hedge mode: per symbol the long, then the short."""
        books = ([self._book(s) for s in symbols] if symbols is not None
                 else list(self._books.values()))
        return [position_view(p, b.mark, self.now_ms)
                for b in books for p in b.positions.values() if p.qty != 0]

    def fetch_balance(self, params: dict[str, Any] | None = None) -> VenueBalance:
        lev = self.settings.leverage
        used = sum((b.used_margin(lev) for b in self._books.values()), ZERO)
        unrealized = sum((b.unrealized() for b in self._books.values()), ZERO)
        total = self._ledger.wallet + unrealized
        return VenueBalance(currencies={SETTLE: Funds(free=total - used, used=used, total=total)})

    def fetch_funding_history(self, symbol: str | None = None, since: int | None = None,
                              limit: int | None = None) -> list[VenueFunding]:
        """The backtest simulates no funding (README: Funding)."""
        return []

    def fetch_my_trades(self, symbol: str | None = None, since: int | None = None,
                        limit: int | None = None,
                        params: dict[str, Any] | None = None) -> list[VenueFill]:
        """The paper exchange's fills (`realized_pnl` included): the grid books the P&L the
        exchange reports for a reducing fill (actors/fill_pnl.py)."""
        books = [self._book(symbol)] if symbol is not None else list(self._books.values())
        start = -(2**62) if since is None else since
        found = [t for b in books for t in _trades_since(self._trades[b.symbol], start)]
        found.sort(key=lambda t: (t.ts, t.seq))
        chosen = limited(found, None, limit) if since is None else found[:limit]
        return [trade_view(t) for t in chosen]

    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal:
        """As the paper exchange's: InvalidOrder when nothing is left, never a 0 to send."""
        step = amount_step(self._book(symbol).market)
        return amount_to_step("backtest", symbol, to_decimal(amount), step)

    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal:
        """As the paper exchange's: InvalidOrder when the price rounds to 0."""
        tick = price_tick(self._book(symbol).market)
        return price_to_tick("backtest", symbol, to_decimal(price), tick)

    def set_leverage(self, leverage: int, symbol: str) -> None:
        """Accepted: the backtest's margin is `risk.leverage`, the value the bot sets."""
        self._book(symbol)

    def positions_of(self, symbol: str) -> list[PositionRec]:
        return list(self._books[symbol].positions.values())

    def close(self) -> None:
        pass


def _trades_since(trades: list[TradeRec], since_ms: int) -> list[TradeRec]:
    """The trades at or after `since_ms` of a list in time order."""
    return trades[bisect.bisect_left(trades, since_ms, key=lambda t: t.ts):]


def _acts(order: OrderRec, mark: Decimal) -> bool:
    """Would the matcher do anything with this resting order at `mark`? (cheap pre-check with
    the matcher's own predicates, so a quiet point skips building a draft)."""
    if order.waiting_for_trigger:
        return trigger_hit(order, mark)
    return order.type == "limit" and limit_crossed(order, mark)
