"""Live orders are restored in the order they were placed. Orders committed in one decision
share `created_at`; they used to be ordered next by their client order id as text, so
`...-10s` came back before `...-9s`: the stop a move placed (seq 10) before the one it replaces
(seq 9), and `active_stop()` (the newest resting stop) named the old one after a restart."""

from __future__ import annotations

from decimal import Decimal as D

from storage.repository import Repository
from tests.trading.conftest import make_rules
from trading.client_ids import client_order_id
from trading.decision import Decision
from trading.model import Order, OrderPurpose, OrderStatus, Phase, Position, Side, SymbolState

SYM = "BTC/USDT:USDT"


def _stop(seq: int, level: str, replaces: str | None = None) -> Order:
    r = make_rules()
    return Order(client_order_id=client_order_id(r.account, r.id_tag, SYM, seq, OrderPurpose.STOP),
                 purpose=OrderPurpose.STOP, side="sell", amount=D(1), price=D(level),
                 reduce_only=True, status=OrderStatus.OPEN, exchange_id=f"x{seq}",
                 position_id="p1", created_at=1000.0, replaces=replaces)


def test_orders_of_equal_created_at_restore_in_placement_order(tmp_path):
    old = _stop(9, "99")
    new = _stop(10, "99.5", replaces=old.client_order_id)
    also = _stop(2, "98")
    pos = Position(position_id="p1", side=Side.LONG, contracts=D(1), entry_price=D(100),
                   opened_at=1000.0)
    state = SymbolState(symbol=SYM, phase=Phase.OPEN, position=pos, orders=(also, old, new),
                        order_seq=10, stop_price=D("99.5"))
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        inc = repo.claim(SYM)
        repo.commit(SYM, inc, SymbolState(symbol=SYM), Decision(state=state),
                    correlation_id="c1", created_at=1000.0)
        restored = repo.load(SYM)
    finally:
        repo.close()
    assert [o.client_order_id for o in restored.orders] == [
        also.client_order_id, old.client_order_id, new.client_order_id]
    active = restored.active_stop()
    assert active is not None and active.client_order_id == new.client_order_id
