"""Issue 16 items 1 and 2, at the decision level: the hedge grid never repeats a decision on a
price it has already acted on (no close-and-reopen loop inside one message), a leg stopped out
waits for a cooldown, no level may fill into a leg without a resting stop, and a stop refused
because the price is through it means close now."""

from __future__ import annotations

from decimal import Decimal as D

from trading.commands import CancelOrder
from trading.events import OrderAccepted, OrderCanceled, OrderFailed, OrderFilled, PriceTicked
from trading.grid.context import PlaceGridOrder
from trading.grid.core import GridCore
from trading.grid.model import GridKind, GridState
from trading.grid.rules import GridRules
from trading.model import Side
from trading.rules import MarketRules

SYMBOL = "BTC/USDT:USDT"


class Run:
    """Applies decisions to a state the way the shell does and answers like an exchange that
    acknowledges orders and confirms cancels at once (the stale-price loop needs no price)."""

    def __init__(self) -> None:
        self.core = GridCore(GridRules(
            symbol=SYMBOL, account="acc", id_tag="t1",
            market=MarketRules(amount_step=D("0.001"), price_tick=D("0.1"), min_amount=D("0.001"),
                               min_cost=D(5)),
            order_size_usdt=D(100), levels=3, step_pct=D(1), size_multiplier=D(2),
            take_profit_pct=D("0.5"), stop_loss_pct=D(5), recalc_pct=D(2), leverage=5))
        self.state = GridState(symbol=SYMBOL)
        self.now = 1000.0
        self.placed: list = []

    def send(self, event, *, answer: bool = True, fill_market_at: str | None = None) -> None:
        """One mailbox message: the event and every result it causes, like the shell's loop."""
        pending = [event]
        while pending:
            self.now += 0.001
            d = self.core.decide(self.state, pending.pop(0), self.now, maintain_after=len(pending) == 0)
            self.state = d.state
            for c in d.commands:
                if isinstance(c, PlaceGridOrder):
                    self.placed.append(c.order)
                    if not answer:
                        continue
                    o = c.order
                    if o.kind in (GridKind.OPEN, GridKind.CLOSE) and fill_market_at is not None:
                        pending.append(OrderFilled(client_order_id=o.client_order_id, exchange_id="x",
                                                   filled=o.amount, average=D(fill_market_at), fee=D(0)))
                    elif o.kind not in (GridKind.OPEN, GridKind.CLOSE):
                        pending.append(OrderAccepted(client_order_id=o.client_order_id,
                                                     exchange_id="x" + o.client_order_id))
                elif isinstance(c, CancelOrder) and answer:
                    pending.append(OrderCanceled(client_order_id=c.client_order_id))
            assert len(self.placed) < 500, "a decision loop inside one message"

    def kinds(self, since: int = 0) -> list[tuple[GridKind, Side]]:
        return [(o.kind, o.leg) for o in self.placed[since:]]


def _open_long_only(run: Run, price: str) -> None:
    run.send(PriceTicked(price=D(price)), fill_market_at=price)
    assert run.state.long.is_open and run.state.short.is_open


def test_a_leg_closed_by_the_bot_at_a_stale_price_does_not_reopen_in_the_same_message():
    run = Run()
    _open_long_only(run, "100")
    stop = next(o for o in run.state.orders_of(Side.LONG, GridKind.STOP))
    # the stop disappears on the exchange and its replacement is never answered; the actor's last
    # price drops to 94 (through 95.0) while the market is back at 100, where every market order
    # fills: the seed re-opened at 100 (stop 95.0), saw 94 again, closed, re-opened... in one
    # message, until the step guard
    run.send(OrderCanceled(client_order_id=stop.client_order_id), answer=False)
    before = len(run.placed)
    run.send(PriceTicked(price=D("94")), fill_market_at="100")
    closes = [k for k in run.kinds(before) if k == (GridKind.CLOSE, Side.LONG)]
    opens = [k for k in run.kinds(before) if k == (GridKind.OPEN, Side.LONG)]
    assert closes == [(GridKind.CLOSE, Side.LONG)] and opens == [], run.kinds(before)
    assert not run.state.long.is_open
    # a fresh price before the stop-out cooldown: still no reopen
    run.send(PriceTicked(price=D("100")), fill_market_at="100")
    assert (GridKind.OPEN, Side.LONG) not in run.kinds(before)
    # after the cooldown, on a fresh price: exactly one reopen
    run.now += run.core.rules.reopen_after_stop_s
    run.send(PriceTicked(price=D("100.1")), fill_market_at="100.1")
    assert run.kinds(before).count((GridKind.OPEN, Side.LONG)) == 1


def test_no_level_is_placed_before_the_legs_stop_rests_and_a_rejected_stop_cancels_resting_levels():
    run = Run()
    run.send(PriceTicked(price=D("100")), answer=False)
    opens = {o.leg: o for o in run.placed if o.kind is GridKind.OPEN}
    run.send(OrderFilled(client_order_id=opens[Side.LONG].client_order_id, exchange_id="x",
                         filled=opens[Side.LONG].amount, average=D(100), fee=D(0)), answer=False)
    assert (GridKind.STOP, Side.LONG) in run.kinds() and (GridKind.ADD, Side.LONG) not in run.kinds()
    stop = next(o for o in run.state.orders_of(Side.LONG, GridKind.STOP))
    run.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="s"), answer=False)
    add = next(o for o in run.state.orders_of(Side.LONG, GridKind.ADD))
    run.send(OrderAccepted(client_order_id=add.client_order_id, exchange_id="a"), answer=False)
    # the stop disappears (canceled on the exchange): the resting level must go, and no new one
    run.send(OrderCanceled(client_order_id=stop.client_order_id), answer=False)
    assert run.state.order(add.client_order_id).cancel_requested_at is not None


def test_a_leg_opened_through_its_stop_closes_at_once_with_no_stop_take_profit_or_level():
    run = Run()
    run.send(PriceTicked(price=D("94")), answer=False)  # the market price the actor last saw
    opens = {o.leg: o for o in run.placed if o.kind is GridKind.OPEN}
    before = len(run.placed)
    # the long's market entry filled at 100 (a fast market): its stop, 95.0, is already crossed
    run.send(OrderFilled(client_order_id=opens[Side.LONG].client_order_id, exchange_id="x",
                         filled=opens[Side.LONG].amount, average=D(100), fee=D(0)), answer=False)
    # now, before any stop could rest; no stop order that the exchange would refuse, no level
    assert run.kinds(before) == [(GridKind.CLOSE, Side.LONG)]


def test_a_stop_refused_after_the_price_went_through_it_is_replaced_by_a_close_at_once():
    run = Run()
    run.send(PriceTicked(price=D("100")), answer=False)
    opens = {o.leg: o for o in run.placed if o.kind is GridKind.OPEN}
    run.send(OrderFilled(client_order_id=opens[Side.LONG].client_order_id, exchange_id="x",
                         filled=opens[Side.LONG].amount, average=D(100), fee=D(0)), answer=False)
    stop = next(o for o in run.state.orders_of(Side.LONG, GridKind.STOP))
    run.send(PriceTicked(price=D("94")), answer=False)  # closes: the stop is not resting yet
    close = next(o for o in run.state.orders_of(Side.LONG, GridKind.CLOSE))
    run.send(OrderFailed(client_order_id=close.client_order_id, error="timeout", never_reached=True),
             answer=False)  # that close failed: the backoff applies to the next close only
    before = len(run.placed)
    run.send(OrderFailed(client_order_id=stop.client_order_id,
                         error="InvalidOrder: trigger price 95.0 must be below the current price 94"),
             answer=False)
    assert run.kinds(before) == []  # the close backoff holds: no close storm on a stop refusal
    run.now += run.core.rules.close_backoff(1)
    run.send(PriceTicked(price=D("94")), answer=False)
    assert run.kinds(before) == [(GridKind.CLOSE, Side.LONG)]
    assert (GridKind.ADD, Side.LONG) not in run.kinds()


def test_a_level_is_never_placed_at_or_beyond_the_legs_stop():
    run = Run()
    _open_long_only(run, "100")
    long_add = next(o for o in run.state.orders_of(Side.LONG, GridKind.ADD))
    # a large move recalculates the long's pending level from the new price (anchor 95.5): one
    # step below it is 94.5, beyond the long's stop at 95.0, so no level may be placed there
    run.send(PriceTicked(price=D("95.5")))
    assert run.state.order(long_add.client_order_id) is None  # cancelled and confirmed
    adds = [o for o in run.state.orders_of(Side.LONG, GridKind.ADD)]
    assert all(o.price > run.state.long.stop_price for o in adds), adds


def test_a_stop_refused_with_the_exchanges_price_through_it_closes_at_once():
    run = Run()
    run.send(PriceTicked(price=D("100")), answer=False)
    opens = {o.leg: o for o in run.placed if o.kind is GridKind.OPEN}
    run.send(OrderFilled(client_order_id=opens[Side.LONG].client_order_id, exchange_id="x",
                         filled=opens[Side.LONG].amount, average=D(100), fee=D(0)), answer=False)
    stop = next(o for o in run.state.orders_of(Side.LONG, GridKind.STOP))
    before = len(run.placed)
    # the actor's last price is still 100; the exchange refused the stop at 94
    run.send(OrderFailed(client_order_id=stop.client_order_id, error="trigger price above market",
                         never_reached=False, market_price=D("94")), answer=False)
    assert run.kinds(before) == [(GridKind.CLOSE, Side.LONG)]
