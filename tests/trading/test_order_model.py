"""One order model for both styles; rows the previous code wrote still restore (incident 7)."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal as D

import pytest

from storage import grid_codec
from storage.grid_store import HEDGE_GRID
from storage.repository import Repository
from storage.restore import CorruptRow
from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.decide import SymbolCore
from trading.events import PriceTicked, SignalRaised
from trading.grid.model import GridKind, GridOrder
from trading.model import OrderPurpose, OrderRecord, OrderStatus, Side
from trading.orders import Order, parse_purpose

SYM = "BTC/USDT:USDT"


def test_both_styles_share_one_order_class_and_one_purpose_enum():
    assert OrderRecord is Order and GridOrder is Order and GridKind is OrderPurpose
    assert GridKind.OPEN is OrderPurpose.ENTRY and GridKind.ADD is OrderPurpose.LEVEL
    assert GridKind.TP is OrderPurpose.TAKE_PROFIT
    assert [p.value for p in OrderPurpose] == ["entry", "add", "tp", "stop", "close", "emergency"]
    assert {p for p in OrderPurpose if not p.reduces} == {OrderPurpose.ENTRY, OrderPurpose.LEVEL}
    stop = Order(client_order_id="c", purpose=OrderPurpose.STOP, side="sell", amount=D(1),
                 price=D(99))
    tp = Order(client_order_id="t", purpose=OrderPurpose.TAKE_PROFIT, side="sell", amount=D(1),
               price=D(101))
    assert stop.stop_price == D(99) and tp.stop_price is None and tp.kind is tp.purpose


@pytest.mark.parametrize(("stored", "purpose"), [
    ("open", OrderPurpose.ENTRY), ("OPEN", OrderPurpose.ENTRY), ("entry", OrderPurpose.ENTRY),
    ("add", OrderPurpose.LEVEL), ("Tp", OrderPurpose.TAKE_PROFIT), ("STOP", OrderPurpose.STOP),
    ("close", OrderPurpose.CLOSE), ("Emergency", OrderPurpose.EMERGENCY)])
def test_every_stored_purpose_name_reads(stored, purpose):
    assert parse_purpose(stored) is purpose


def test_unknown_purpose_names_the_allowed_values():
    with pytest.raises(ValueError, match="'sideways' is not a valid OrderPurpose"):
        parse_purpose("sideways")


# A grid_state document exactly as the previous grid_codec.dumps wrote it (kind "open" for the
# opening market order, upper-case values from an even older writer).
LEGACY_GRID = {
    "version": 1,
    "long": {"position_id": "acc-t1-BTCa1b-1o", "contracts": "1", "entry_price": "100",
             "level": 0, "ref_qty": "1", "anchor": "100", "stop_price": "95.0",
             "opened_at": 1.0, "realized_pnl": "0", "fees": "0.01", "close_attempts": 0,
             "retry_at": 0.0},
    "short": {"position_id": None, "contracts": "0", "entry_price": None, "level": 0,
              "ref_qty": None, "anchor": None, "stop_price": None, "opened_at": 0.0,
              "realized_pnl": "0", "fees": "0", "close_attempts": 0, "retry_at": 0.0},
    "orders": [
        {"client_order_id": "acc-t1-BTCa1b-2o", "leg": "short", "kind": "OPEN", "side": "sell",
         "amount": "1", "price": None, "level": 0, "status": "PENDING", "exchange_id": None,
         "filled": "0", "average": None, "fee": "0", "created_at": 1.0, "replaces": None,
         "cancel_requested_at": None, "last_error": None},
        {"client_order_id": "acc-t1-BTCa1b-3s", "leg": "LONG", "kind": "stop", "side": "sell",
         "amount": "1", "price": "95.0", "level": 0, "status": "open", "exchange_id": "e3",
         "filled": "0", "average": None, "fee": "0", "created_at": 1.0, "replaces": None,
         "cancel_requested_at": None, "last_error": None},
        {"client_order_id": "acc-t1-BTCa1b-4t", "leg": "long", "kind": "tp", "side": "sell",
         "amount": "1", "price": "100.5", "level": 0, "status": "open", "exchange_id": "e4",
         "filled": "0", "average": None, "fee": "0", "created_at": 1.0, "replaces": None,
         "cancel_requested_at": None, "last_error": None},
        {"client_order_id": "acc-t1-BTCa1b-5a", "leg": "long", "kind": "Add", "side": "buy",
         "amount": "2", "price": "99.0", "level": 1, "status": "open", "exchange_id": "e5",
         "filled": "0", "average": None, "fee": "0", "created_at": 1.0, "replaces": None,
         "cancel_requested_at": 2.5, "last_error": None},
    ],
    "order_seq": 5, "reopen": [], "next_open_at": 0.0, "quarantined": False,
    "quarantine_reason": None, "entries_blocked": False,
}


def test_a_legacy_grid_document_restores_through_sqlite(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        con = sqlite3.connect(tmp_path / "bot.sqlite")
        con.execute("INSERT INTO grid_state (symbol, data, updated_at) VALUES (?,?,?)",
                    (SYM, json.dumps(LEGACY_GRID), 1.0))
        con.commit()
        con.close()
        state = repo.load(SYM, store=HEDGE_GRID)
    finally:
        repo.close()
    opening, stop, tp, add = state.orders
    assert (opening.purpose, opening.leg, opening.status) == (
        OrderPurpose.ENTRY, Side.SHORT, OrderStatus.PENDING)
    assert not opening.reduce_only and not add.reduce_only
    assert (stop.purpose, stop.stop_price, stop.reduce_only) == (OrderPurpose.STOP, D("95.0"), True)
    assert (tp.purpose, tp.price, tp.reduce_only) == (OrderPurpose.TAKE_PROFIT, D("100.5"), True)
    assert (add.purpose, add.level, add.price, add.cancel_requested_at) == (
        OrderPurpose.LEVEL, 1, D("99.0"), 2.5)
    assert state.orders_of(Side.LONG, GridKind.STOP) == [stop]
    # written back in today's form, it reads back the same
    again = grid_codec.loads(SYM, grid_codec.dumps(state))
    assert again.orders == state.orders and again.long == state.long


def test_an_unreadable_grid_order_kind_names_the_field():
    doc = json.loads(json.dumps(LEGACY_GRID))
    doc["orders"][2]["kind"] = "sideways"
    with pytest.raises(CorruptRow, match=r"data\.orders\[2\]\.kind"):
        grid_codec.loads(SYM, json.dumps(doc))


def test_one_way_order_rows_restore_with_legacy_casing(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        inc = repo.claim(SYM)
        sc = Scenario(SymbolCore(make_rules()))
        for event in (PriceTicked(price=D(100)), SignalRaised(side=Side.LONG)):
            before, start = sc.state, len(sc.decisions)
            sc.send(event)
            for d in sc.decisions[start:]:
                repo.commit(SYM, inc, before, d, correlation_id="c", created_at=sc.now)
                before = d.state
        con = sqlite3.connect(tmp_path / "bot.sqlite")
        con.execute("UPDATE orders SET purpose=upper(purpose), status=upper(status)")
        con.commit()
        con.close()
        loaded = repo.load(SYM)
    finally:
        repo.close()
    (stop,) = loaded.orders
    assert loaded.orders == sc.state.orders
    assert (stop.purpose, stop.price, stop.stop_price) == (OrderPurpose.STOP, D("99.0"), D("99.0"))
