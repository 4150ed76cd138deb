"""The live chaos run's ledger check (tests/e2e/live_chaos.py `fees_owed`) reads the fees a
hedge grid holds as owed where the grid stores them: its state document (`grid_state.data`,
storage/grid_codec.py), not actor_state. A Binance order answer carries no fee (it is booked
late, from the order's trades): read from actor_state only, a live Binance grid chaos run
(seed 4991) reported two entries whose fees were owed, and booked 5 s after their fills, as
ledger violations."""

from __future__ import annotations

import time
from decimal import Decimal as D

from storage import grid_codec
from storage.database import open_database
from tests.e2e.live_chaos import fees_owed
from trading import late_fees
from trading.grid.model import GridState, Leg
from trading.orders import Order, OrderPurpose, OrderStatus
from trading.primitives import Side

ETH = "ETH/USDT:USDT"


def test_a_grids_owed_fees_and_live_orders_are_read_from_its_document(tmp_path):
    path = tmp_path / "bot.sqlite"
    db = open_database(path)
    entry = Order(client_order_id="main-e-ETH-18e", purpose=OrderPurpose.ENTRY, side="sell",
                  amount=D("0.066"), status=OrderStatus.FILLED, filled=D("0.066"),
                  average=D("3010.83"), leg=Side.SHORT, position_id="main-e-ETH-18e")
    tp = Order(client_order_id="main-e-ETH-26t", purpose=OrderPurpose.TAKE_PROFIT, side="buy",
               amount=D("0.066"), price=D("2998.03"), status=OrderStatus.OPEN,
               leg=Side.SHORT, position_id="main-e-ETH-24e")
    gone = Order(client_order_id="main-e-ETH-20a", purpose=OrderPurpose.LEVEL, side="sell",
                 amount=D("0.099"), price=D("3020"), status=OrderStatus.CANCELED, leg=Side.SHORT)
    leg = Leg(side=Side.SHORT, position_id="main-e-ETH-24e", contracts=D("0.066"),
              entry_price=D("3007.06"), stop_price=D("3052.17"))
    state = late_fees.owe(GridState(symbol=ETH, short=leg, orders=(tp, gone)), entry, time.time())
    db.execute_sql("INSERT INTO grid_state (symbol, data, updated_at) VALUES (?, ?, ?)",
                   (ETH, grid_codec.dumps(state), time.time()))
    db.close_all()
    owed = fees_owed(path)
    assert {"main-e-ETH-18e", "main-e-ETH-26t"} <= owed
    assert "main-e-ETH-20a" not in owed
