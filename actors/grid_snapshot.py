"""What the exchange says about a hedge-grid symbol: the reconciliation snapshot, and the
exchange's own realized P&L for fills of reducing orders (actors/fill_pnl.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from actors import exchange_snapshot as snap
from actors import fill_pnl
from actors.command_executor import describe
from exchange.fence import Fenced, Preempted, preemptible
from exchange.port import ExchangePort
from exchange.records import PositionSide, VenueFill
from trading import late_fees
from trading.events import ExchangeOrder, ExchangePosition, ExternalFill, OrderFilled
from trading.grid.events import GridReconciled
from trading.grid.model import GridState, Leg
from trading.model import Side
from trading.orders import Order

LEG_OF = {PositionSide.LONG: Side.LONG, PositionSide.SHORT: Side.SHORT}


def gather(
    exchange: ExchangePort,
    state: GridState,
    attempts: int = 3,
    booked: Callable[[set[str]], set[str]] = lambda cids: set(),
) -> GridReconciled:
    """A consistent snapshot of both legs, the same way as the one-way core's
    (actors/exchange_snapshot.py): positions read before and after the orders. `booked`: which of
    some client ids already have fills in the ledger (so nothing is booked twice)."""
    symbol = state.symbol

    def read(legs: dict[Side, ExchangePosition]) -> GridReconciled:
        live = {o.client_order_id for o in state.orders}
        orders = snap.lookup_orders(exchange, symbol,
                                    state.orders + late_fees.owed_orders(state))
        gone = [
            state.leg(s) for s in (Side.LONG, Side.SHORT) if state.leg(s).is_open and s not in legs
        ]
        # legs listed smaller than our books hold them (part closed by hand, a partial
        # liquidation): their exits are looked for as a gone leg's are (trading/grid/reconcile.py
        # books them, as the one-way core's `resized`)
        gone += [state.leg(s) for s in (Side.LONG, Side.SHORT) if s in legs
                 and legs[s].contracts < state.leg(s).contracts]
        # and legs listed larger (a buy by hand): their entries, as the one-way core's
        grew = [state.leg(s) for s in (Side.LONG, Side.SHORT) if s in legs
                and state.leg(s).is_open and legs[s].contracts > state.leg(s).contracts]
        unlisted = [o for o in state.orders if o.client_order_id not in orders]
        need_trades = gone or grew or unlisted or any(
            _reducing_fill(state, cid, o) for cid, o in orders.items())
        trades = (_trades_since(exchange, symbol, gone + grew, unlisted, state)
                  if need_trades else [])
        done = _done_in_trades(unlisted, trades, symbol)
        orders.update(done)
        return GridReconciled(
            positions=legs,
            orders={cid: _with_pnl(state, cid, o, trades) for cid, o in orders.items()},
            unlisted_traded={
                cid: _with_pnl(state, cid, o, trades)
                for cid, o in _traded_in_part(unlisted, trades, done, symbol).items()
            },
            orphans=snap.orphans(exchange, symbol, live),
            price=snap.last_price(exchange, symbol),
            external_fills=_unexplained(gone, trades, live, booked, _grown(state, legs),
                                        {leg.side for leg in grew}, symbol),
        )

    return snap.consistent(symbol, lambda: snap.positions(exchange, symbol), read, attempts)


def with_exchange_pnl(exchange: ExchangePort, state: GridState, event: Any, log: Any) -> Any:
    """A fill of a reducing order carries the P&L the exchange booked for it, where the exchange
    reports one (see actors/fill_pnl.py). The read gives way to an order report (exchange/
    fence.py `preemptible`): at reconciliation priority it held the actor up to 30 s a request
    in the rate budget, or its retries' backoff, while another leg's removed stop was reported
    behind it (found by review); set aside, the core computes the P&L, as when the venue's
    trade list lags the fill."""
    if not isinstance(event, OrderFilled) or event.realized_pnl is not None:
        return event
    order = state.order(event.client_order_id)
    if order is None or not order.kind.reduces or event.filled <= order.filled:
        return event
    try:
        with preemptible(prices=False):
            pnl = fill_pnl.order_pnl(exchange, state.symbol, order.client_order_id,
                                     order.created_at, event.filled)
    except Fenced:
        raise  # this incarnation was replaced: it decides nothing more
    except Preempted:
        log.info("trades of {} not read: an order report is waiting; computing its P&L",
                 order.client_order_id)
        return event
    except Exception as exc:  # noqa: BLE001 - the core computes it instead
        log.warning(
            "trades of {} unreadable: {}; computing its P&L", order.client_order_id, describe(exc)
        )
        return event
    return replace(event, realized_pnl=pnl)


def _trades_since(
    exchange: ExchangePort, symbol: str, gone: list[Leg], unlisted: list[Order],
    state: GridState,
) -> list[VenueFill]:
    opened = ([leg.opened_at for leg in gone] + [o.created_at for o in unlisted]
              or [o.created_at for o in state.orders])
    return exchange.fetch_my_trades(
        symbol, int(min(opened, default=0.0) * 1000) - fill_pnl.SLACK_MS
    )


def _done_in_trades(unlisted: list[Order], trades: list[VenueFill],
                    symbol: str) -> dict[str, ExchangeOrder]:
    """Our live orders the lookup did not find whose trades make up their whole amount: done,
    answered from those trades (trading/order_evidence.py `done_in_trades`: the venue's order
    history lags its fills). Left out, such an order ended as cancelled at its second miss and
    its fill and fee never reached the ledger (a level: the leg only followed the venue's size).
    An order whose trades do not make up its amount stays not found."""
    out = {}
    for order in unlisted:
        answer = _from_trades(order, trades, "closed", symbol)
        if answer is not None and answer.filled >= order.amount:
            out[order.client_order_id] = answer
    return out


def _traded_in_part(unlisted: list[Order], trades: list[VenueFill],
                    done: dict[str, ExchangeOrder], symbol: str) -> dict[str, ExchangeOrder]:
    """Our live orders the lookup did not find whose trades show fills beyond what we applied,
    short of their whole amount (a take-profit filled in part and gone, a reduce-only stop the
    venue cut down to the position): those trades, for the core to book while the order stays
    not found (it ends as a not-found order does). Left out, the part that filled never reached
    the ledger: the leg only followed the venue's size."""
    out = {}
    for order in unlisted:
        answer = _from_trades(order, trades, "open", symbol)
        if answer is not None and order.client_order_id not in done:
            out[order.client_order_id] = answer
    return out


def _from_trades(order: Order, trades: list[VenueFill], status: str,
                 symbol: str) -> ExchangeOrder | None:
    """The order as its trades tell it (cumulative), or None when they add nothing to what we
    applied. Its fee is known only where every trade tells it in the settle currency
    (`snap.settled_fee`; found by review: a fee in another asset was summed as USDT)."""
    mine = [t for t in trades if t.client_order_id == order.client_order_id]
    fees = [snap.settled_fee(t, symbol) for t in mine]
    filled = sum((t.amount for t in mine), Decimal(0))
    if filled <= order.filled:
        return None
    times = [t.timestamp for t in mine if t.timestamp is not None]
    return ExchangeOrder(
        client_order_id=order.client_order_id, exchange_id=order.exchange_id,
        status=status, filled=filled,
        average=sum((t.price * t.amount for t in mine), Decimal(0)) / filled,
        fee=sum((f for f in fees if f is not None), Decimal(0)), reduce_only=order.reduce_only,
        fee_known=all(f is not None for f in fees),
        last_fill_at=max(times) if len(times) == len(mine) else None)


def _reducing_fill(state: GridState, cid: str, found: Any) -> bool:
    order = state.order(cid)
    return order is not None and order.kind.reduces and found.filled > order.filled


def _with_pnl(state: GridState, cid: str, found: Any, trades: list[VenueFill]) -> Any:
    if not _reducing_fill(state, cid, found):
        return found
    return replace(found, realized_pnl=fill_pnl.reported_pnl(
        (t for t in trades if t.client_order_id == cid), found.filled))


def _grown(state: GridState, legs: dict[Side, ExchangePosition]) -> dict[Side, Decimal]:
    """Per side, how much larger the venue lists the leg than our books hold it."""
    return {s: max(p.contracts - state.leg(s).contracts, Decimal(0)) for s, p in legs.items()}


def _opens_other(t: VenueFill, side: Side, spare: dict[Side, Decimal]) -> bool:
    """A fill without a position side (Bybit) that realized nothing (Bybit's execPnl is 0 for an
    opening fill) while the venue lists the other leg larger than ours by at least it: that
    leg's opening fill (a sell by hand growing the short), not the gone leg's exit. A fill
    that realized P&L, or one the other leg's growth cannot hold, stays the exit."""
    other = Side.SHORT if side is Side.LONG else Side.LONG
    if t.realized_pnl is None or t.realized_pnl != 0 or spare.get(other, Decimal(0)) < t.amount:
        return False
    spare[other] -= t.amount
    return True


def _unexplained(
    gone: list[Leg], trades: list[VenueFill], live: set[str],
    booked: Callable[[set[str]], set[str]], grown: dict[Side, Decimal] | None = None,
    grew: set[Side] | frozenset[Side] = frozenset(), symbol: str = "",
) -> tuple[ExternalFill, ...]:
    """Fills that reduced a leg that is flat (or smaller) on the exchange but open in our
    books, since that leg opened, that no booked or live order of ours explains. A fill that
    names no position side (Bybit's executions carry no positionIdx, exchange/port.py) is the
    changed leg's its side exits (a sell the long's, a buy the short's), else, realizing
    nothing, the changed leg's its side enters: dropped, a leg liquidated or closed by hand on
    Bybit stayed open in the books for good, listed flat with nothing that closed it (`_leg_of`).
    A fill without a client order id (a close by hand, a liquidation) is named by its trade id
    (`trade-<id>`, as the one-way core's), so that once booked it is known: named "external",
    an earlier leg's such fill inside the window was booked again as a later leg's close. A
    fill without a side that is the other leg's opening fill (`_opens_other`) is not the gone
    leg's exit. `grew`: legs open in our books that the venue lists larger: their fills that name
    their position side and that nothing of ours explains, too (a buy by hand, and a smaller
    sell by hand after it), as a gone leg's of both sides (found by review: a buy by hand
    before a close by hand of the whole leg never reached the ledger)."""
    sides = {leg.side for leg in gone}
    if not sides and not grew:
        return ()
    known = live | booked({_name(t) for t in trades})
    spare = dict(grown or {})
    out = []
    for t in trades:
        cid = _name(t)
        if cid in known:
            continue
        side = _leg_of(t, sides, grew, spare)
        if side is None:
            continue
        fee = snap.settled_fee(t, symbol)
        out.append(
            ExternalFill(
                client_order_id=cid,
                side=t.side,
                amount=t.amount,
                price=t.price,
                fee=fee if fee is not None else Decimal(0),
                position_side=side,
                realized_pnl=t.realized_pnl,
                fee_known=fee is not None,
                filled_at=t.timestamp,
            )
        )
    return tuple(out)


def _leg_of(t: VenueFill, sides: set[Side], grew: set[Side] | frozenset[Side],
            spare: dict[Side, Decimal]) -> Side | None:
    """The leg an unexplained fill belongs to: an exit of a gone (or smaller) leg, or an entry
    of a larger one; None: neither."""
    if t.position_side is not None:
        side = LEG_OF.get(t.position_side)
        if side is None:
            return None
        # an entry of a gone leg too (a buy by hand before the close by hand): its fee is owed;
        # an exit of a larger one too (a smaller sell by hand after a buy by hand: booked with
        # it where both explain the size; found by review: the sell never reached the ledger)
        if side in sides or side in grew:
            return side
        return None
    # without a side, as a fill that names it: the exit or the entry of a leg listed smaller
    # or larger (found by review: only a smaller leg's exit and a larger one's entry were
    # taken, so on Bybit a buy by hand into a leg then sold by hand, or a smaller sell after
    # it, was dropped: its fee never booked, the other fill booked for the difference alone)
    changed = sides | grew
    exits = Side.SHORT if t.side == Side.SHORT.exit_order_side else Side.LONG
    enters = Side.LONG if exits is Side.SHORT else Side.SHORT
    if exits in changed and not _opens_other(t, exits, spare):
        return exits
    if enters in changed and not t.realized_pnl:  # an opening fill realizes nothing
        return enters
    return None


def _name(t: VenueFill) -> str:
    """The ledger's name of a fill: our client order id, else the venue's trade id."""
    return t.client_order_id or f"trade-{t.id}"
