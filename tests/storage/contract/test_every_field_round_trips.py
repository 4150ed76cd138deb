"""Storage contract, every field: a one-way state and a hedge-grid state with every stored field
set to a value other than its default are committed through the real repository and loaded
back, on SQLite (a real file) and on PostgreSQL, and compared field by field: each field, of
the state, its position, trailing stop, legs, orders and owed fees, comes back equal and of
the same type (Decimal stays Decimal and exact, times keep their fractions, enums stay enums,
None stays None). A field that is left out of storage by design is listed with why; a new field
of the state is caught here until it is either stored or listed."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D
from typing import Any

import pytest

from storage.grid_store import HEDGE_GRID
from storage.models import SCHEMA_VERSION
from storage.restore import CorruptRow
from tests.storage.contract.backends import Backend
from trading.decision import Decision
from trading.grid.model import GridState, Leg
from trading.late_fees import FeeOwed
from trading.model import (
    OrderPurpose,
    OrderStatus,
    Phase,
    Position,
    Side,
    SymbolState,
    TrailingState,
    TrailingStop,
)
from trading.orders import Order

SYM = "BTC/USDT:USDT"
T0 = 1764900000.123456

ONE_WAY_NOT_STORED = {
    "next_stop_at": "a refused stop's backoff: a restart retries fast (reconcile resets it)",
    "entries_blocked": "re-sent to every new incarnation by the supervisor",
    "entries_blocked_reason": "as entries_blocked",
    "last_price": "the next price",
    "finished_orders": "the last decision's ended orders, written as rows, not state",
    "skipped_for": "journaled once more after a restart",
    "entry_retry_at": "a restart may try an entry once at once",
    "entry_refusals": "as entry_retry_at",
    "stop_refusals": "a restart retries fast",
    "unconfirmed": "a restart starts counting again",
    "doubts": "a restart starts counting again",
    "closed": "a restart before the fee is told misses that cooldown",
    "resize_waited": "not persisted (trading/model.py)",
    "entry_resend": "not persisted: a restart skips entries lost with the mailbox "
                    "(trading/entry_resend.py)",
}
ONE_WAY_ORDER_UNUSED = {
    "leg": "a hedge leg: a one-way order has none",
    "level": "a grid level: a one-way order has none",
    "realized_pnl": "the grid's per-order P&L: a one-way order keeps none (the ledger has it)",
}
GRID_NOT_STORED = {
    "open_skipped_for": "journaled once more after a restart",
    "open_refusals": "a restart may try once at once",
    "entries_blocked_reason": "not in the document (trading/grid/model.py)",
    "last_price": "the next price",
    "reopen_after_seq": "the close's price was in the process before: any price is newer",
    "finished_orders": "the last decision's ended orders",
    "unconfirmed": "a restart starts counting again",
    "resize_waits": "not persisted (trading/grid/model.py)",
    "levels_refused": "journaled once more after a restart",
    "doubts": "a restart starts counting again",
}
LEG_NOT_STORED = {
    "stop_failures": "a restart retries fast",
    "tp_failures": "as stop_failures",
}


def defaults(cls: type) -> dict[str, Any]:
    out = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def assert_all_set(obj: Any, skip: dict[str, str], where: str) -> None:
    """The test's own guard: every stored field holds a value other than its default."""
    unset = [name for name, default in defaults(type(obj)).items()
             if name not in skip and getattr(obj, name) == default]
    assert not unset, f"{where}: set these to a non-default value too: {unset}"


def assert_same(loaded: Any, saved: Any, skip: dict[str, str], where: str) -> None:
    for f in dataclasses.fields(saved):
        if f.name in skip:
            continue
        got, want = getattr(loaded, f.name), getattr(saved, f.name)
        assert type(got) is type(want), \
            f"{where}.{f.name}: {type(got).__name__} {got!r}, saved {type(want).__name__} {want!r}"
        assert got == want, f"{where}.{f.name}: loaded {got!r}, saved {want!r}"
        if isinstance(want, D):
            assert str(got) == str(want), f"{where}.{f.name}: {got} is not exactly {want}"


def assert_orders_same(loaded: tuple[Order, ...], saved: tuple[Order, ...], skip: dict[str, str],
                       where: str) -> None:
    assert [o.client_order_id for o in loaded] == [o.client_order_id for o in saved], \
        f"{where}: the orders' order changed"
    for i, (got, want) in enumerate(zip(loaded, saved, strict=True)):
        assert_same(got, want, skip, f"{where}[{i}]")


def one_way_order(seq: int, purpose: OrderPurpose, **kw: Any) -> Order:
    return Order(client_order_id=f"main-ab12-BTC-{seq}{purpose.letter}", purpose=purpose,
                 reduce_only=purpose.reduces, **kw)


def full_one_way() -> SymbolState:
    pid = "p-BTC-7"
    common = dict(exchange_id="x-1", position_id=pid, last_error="HTTP 503 once",
                  fee=D("0.000012345678901234567890123"), average=D("99.98765432109876543210"))
    old_stop = one_way_order(
        2, OrderPurpose.STOP, side="sell", amount=D("0.123456789012345678"),
        price=D("95.000000000000000001"), status=OrderStatus.OPEN,
        filled=D("0.000000000000000001"), created_at=T0 + 0.25, replaces="main-ab12-BTC-1s",
        cancel_requested_at=T0 + 9.875, **common)
    new_stop = one_way_order(
        3, OrderPurpose.STOP, side="sell", amount=D("0.123456789012345678"), price=D("97.5"),
        status=OrderStatus.OPEN, filled=D("0.1"), created_at=T0 + 9.5,
        replaces=old_stop.client_order_id, cancel_requested_at=T0 + 10.125, **common)
    close = one_way_order(
        4, OrderPurpose.CLOSE, side="sell", amount=D("1E-18"), status=OrderStatus.OPEN,
        filled=D("0.5"), created_at=T0 + 11.0625, replaces="main-ab12-BTC-9c",
        cancel_requested_at=T0 + 12.5, **common)
    owed = one_way_order(
        1, OrderPurpose.EMERGENCY, side="buy", amount=D("0.123456789012345678"),
        status=OrderStatus.FILLED, filled=D("0.123456789012345678"), created_at=T0 + 0.125,
        replaces="r", cancel_requested_at=T0 + 0.5, **common)
    return SymbolState(
        symbol=SYM,
        phase=Phase.CLOSING,
        position=Position(position_id=pid, side=Side.SHORT, contracts=D("0.123456789012345678"),
                          entry_price=D("100.00000000000000000001"), opened_at=T0 + 0.0078125,
                          fees=D("0.0000001"), realized_pnl=D("-12.3456789")),
        trailing=TrailingStop(state=TrailingState.ACTIVE, activation_price=D("99.1"),
                              callback_pct=D("0.35"), best_price=D("98.123456789"),
                              trigger_price=D("98.4670"),),
        stop_price=D("97.50"),
        take_profit_price=D("80.000000001"),
        orders=(old_stop, new_stop, close),
        order_seq=4,
        cooldown_until=T0 + 600.5,
        close_attempts=3,
        next_close_at=T0 + 30.25,
        close_reason="exit signal",
        last_close_error="insufficient margin",
        needs_stop=True,
        next_stop_at=T0 + 2,
        quarantined=True,
        quarantine_reason="held by a person",
        fees_owed=(FeeOwed(order=owed, looks=2, noted_at=T0 + 20.5),),
    )


def test_every_one_way_field_round_trips(backend: Backend):
    saved = full_one_way()
    assert_all_set(saved, ONE_WAY_NOT_STORED, "SymbolState")
    assert_all_set(saved.position, {}, "Position")
    assert_all_set(saved.trailing, {}, "TrailingStop")
    for o in (*saved.orders, saved.fees_owed[0].order):
        skip = {**ONE_WAY_ORDER_UNUSED, **({} if o.purpose is OrderPurpose.STOP else
                                           {"price": "a one-way order's price is a stop's"})}
        assert_all_set(o, skip, o.client_order_id)
    repo = backend.open()
    inc = repo.claim(SYM)
    repo.commit(SYM, inc, SymbolState(symbol=SYM), Decision(state=saved), correlation_id="rt",
                created_at=T0)

    loaded = repo.load(SYM)

    assert_same(loaded, saved, {**ONE_WAY_NOT_STORED, "position": "", "trailing": "",
                                "orders": "", "fees_owed": ""}, "SymbolState")
    assert_same(loaded.position, saved.position, {}, "position")
    assert_same(loaded.trailing, saved.trailing, {}, "trailing")
    assert_orders_same(loaded.orders, saved.orders, {}, "orders")
    assert len(loaded.fees_owed) == 1
    assert_same(loaded.fees_owed[0], saved.fees_owed[0], {"order": ""}, "fees_owed[0]")
    assert_same(loaded.fees_owed[0].order, saved.fees_owed[0].order, {}, "fees_owed[0].order")
    # what the restore means by it: the stop being cancelled protects nothing
    assert not loaded.protected()


def full_leg(side: Side, n: int) -> Leg:
    return Leg(side=side, position_id=f"g-{side.value}-{n}", contracts=D("0.30000000000000000001"),
               entry_price=D("100.123456789"), level=n, ref_qty=D("0.1"), anchor=D("99.5"),
               anchor_seq=40 + n, stop_price=D("80.000000000000000001"),
               opened_at=T0 + n / 8, realized_pnl=D("-1.5E-7"), fees=D("0.0314159"),
               close_attempts=n, retry_at=T0 + 5.5, stop_retry_at=T0 + 6.25,
               stop_failures=n, tp_failures=n, level_retry_at=T0 + 7.125, level_failures=n,
               close_retry_at=T0 + 8.0625, stopped=True, close_unsent=True)


def grid_order(seq: int, leg: Side, purpose: OrderPurpose, **kw: Any) -> Order:
    return Order(client_order_id=f"main-ab12-BTC-{seq}{purpose.letter}", purpose=purpose,
                 reduce_only=purpose.reduces, leg=leg, side="sell" if leg is Side.LONG else "buy",
                 amount=D("0.30000000000000000001"), price=D("120.5"), status=OrderStatus.OPEN,
                 exchange_id=f"x{seq}", filled=D("0.1"), average=D("120.49"),
                 fee=D("0.0000012"), realized_pnl=D("0.00000000000000000001"),
                 position_id=f"g-{leg.value}-2", level=seq, created_at=T0 + seq / 16,
                 last_error="timeout", replaces=f"main-ab12-BTC-{seq - 1}s",
                 cancel_requested_at=T0 + seq / 4, **kw)


def full_grid() -> GridState:
    # placed out of created_at order: the document keeps the orders as they are
    orders = (grid_order(9, Side.SHORT, OrderPurpose.STOP),
              grid_order(3, Side.LONG, OrderPurpose.TAKE_PROFIT),
              grid_order(5, Side.LONG, OrderPurpose.STOP))
    owed = dataclasses.replace(grid_order(2, Side.SHORT, OrderPurpose.TAKE_PROFIT),
                               status=OrderStatus.CANCELED)
    return GridState(
        symbol=SYM, long=full_leg(Side.LONG, 2), short=full_leg(Side.SHORT, 3), orders=orders,
        order_seq=9, reopen=(Side.SHORT, Side.LONG), next_open_at=T0 + 3.75, quarantined=True,
        quarantine_reason="held by a person", entries_blocked=True, price_seq=77,
        reopen_after_seq=76, open_refusals=2, open_skipped_for="long: margin",
        fees_owed=(FeeOwed(order=owed, looks=4, noted_at=T0 + 1.5),))


def test_every_hedge_grid_field_round_trips(backend: Backend):
    saved = full_grid()
    assert_all_set(saved, {**GRID_NOT_STORED, "symbol": ""}, "GridState")
    for leg in (saved.long, saved.short):
        assert_all_set(leg, LEG_NOT_STORED, f"Leg {leg.side}")
    for o in (*saved.orders, saved.fees_owed[0].order):
        assert_all_set(o, {}, o.client_order_id)
    repo = backend.open()
    inc = repo.claim(SYM)
    repo.commit(SYM, inc, GridState(symbol=SYM), Decision(state=saved), correlation_id="rt",
                created_at=T0, store=HEDGE_GRID)

    loaded = repo.load(SYM, store=HEDGE_GRID)

    assert_same(loaded, saved, {**GRID_NOT_STORED, "long": "", "short": "", "orders": "",
                                "fees_owed": ""}, "GridState")
    assert_same(loaded.long, saved.long, LEG_NOT_STORED, "long")
    assert_same(loaded.short, saved.short, LEG_NOT_STORED, "short")
    assert_orders_same(loaded.orders, saved.orders, {}, "orders")
    assert len(loaded.fees_owed) == 1
    assert_same(loaded.fees_owed[0], saved.fees_owed[0], {"order": ""}, "fees_owed[0]")
    assert_same(loaded.fees_owed[0].order, saved.fees_owed[0].order, {}, "fees_owed[0].order")


def test_a_schema_6_store_gets_the_cancel_mark_and_its_orders_load_without_it(backend: Backend):
    saved = full_one_way()
    repo = backend.open()
    inc = repo.claim(SYM)
    repo.commit(SYM, inc, SymbolState(symbol=SYM), Decision(state=saved), correlation_id="rt",
                created_at=T0)
    repo.close()
    # the schema-6 shape: no orders.cancel_requested_at (the rows as the old bot left them)
    backend.sql("ALTER TABLE orders DROP COLUMN cancel_requested_at; "
                "UPDATE meta SET value = '6' WHERE key = 'schema_version'", script=True)
    repo = backend.open()
    assert backend.sql("SELECT value FROM meta WHERE key='schema_version'") == [
        (str(SCHEMA_VERSION),)]
    loaded = repo.load(SYM)
    assert [o.cancel_requested_at for o in loaded.orders] == [None, None, None]
    unmarked = tuple(dataclasses.replace(o, cancel_requested_at=None) for o in saved.orders)
    assert loaded.orders == unmarked
    # and the migrated store keeps the mark from its next commit on
    inc = repo.claim(SYM)
    repo.commit(SYM, inc, loaded, Decision(state=saved), correlation_id="rt2", created_at=T0)
    assert repo.load(SYM).orders == saved.orders


def test_orders_come_back_in_placement_order_after_the_clock_stepped_back(backend: Backend):
    """The stop move was placed after the wall clock stepped back 5 s (NTP, a VM restore): its
    created_at is older than the stop it replaces. The restore sorted by created_at, so the
    replaced stop came back as the newest, the one `active_stop` names (a trailing move then
    replaced it and left the current stop resting beside the new one)."""
    pid = "p-BTC-7"
    old = one_way_order(2, OrderPurpose.STOP, side="sell", amount=D(1), price=D(95),
                        status=OrderStatus.OPEN, position_id=pid, created_at=T0 + 10,
                        cancel_requested_at=T0 + 6)
    new = one_way_order(3, OrderPurpose.STOP, side="sell", amount=D(1), price=D(97),
                        status=OrderStatus.OPEN, position_id=pid, created_at=T0 + 5,
                        replaces=old.client_order_id)
    saved = SymbolState(symbol=SYM, phase=Phase.OPEN, order_seq=3, stop_price=D(97),
                        position=Position(position_id=pid, side=Side.LONG, contracts=D(1),
                                          entry_price=D(100), opened_at=T0),
                        orders=(old, new))
    assert saved.active_stop() == new
    repo = backend.open()
    inc = repo.claim(SYM)
    repo.commit(SYM, inc, SymbolState(symbol=SYM), Decision(state=saved), correlation_id="rt",
                created_at=T0)

    loaded = repo.load(SYM)

    assert [o.client_order_id for o in loaded.orders] == [old.client_order_id,
                                                          new.client_order_id]
    assert loaded.active_stop() == new


def test_an_unreadable_cancel_mark_names_the_order_row(backend: Backend):
    saved = full_one_way()
    repo = backend.open()
    inc = repo.claim(SYM)
    repo.commit(SYM, inc, SymbolState(symbol=SYM), Decision(state=saved), correlation_id="rt",
                created_at=T0)
    cid = saved.orders[1].client_order_id
    backend.sql("UPDATE orders SET cancel_requested_at = CAST('NaN' AS DOUBLE PRECISION) "
                "WHERE client_order_id = ?" if backend.kind == "postgresql" else
                "UPDATE orders SET cancel_requested_at = 'NaN' WHERE client_order_id = ?", (cid,))
    with pytest.raises(CorruptRow) as err:
        repo.load(SYM)
    assert str(err.value).startswith(f"orders row {cid!r} of {SYM}: field "
                                     "'cancel_requested_at'"), str(err.value)
