"""An error whose text cannot be read still ends as the failure it is, named by its type.

Found by review: `describe()` called `str(exc)` unguarded. A close whose create_order raised an
exception whose `__str__` raises (a library's broken error class) raised again inside the error
path: the close attempt was never counted (OrderFailed), the actor crashed with the wrong error,
and each restart retried the close the same way (incident 2). The real CommandExecutor on a
fake venue injected through its constructor."""

from __future__ import annotations

from decimal import Decimal as D

from loguru import logger

from actors.command_executor import CommandExecutor, describe
from trading.commands import PlaceOrder
from trading.events import OrderFailed
from trading.model import Order, OrderPurpose

SYM = "BTC/USDT:USDT"


class UnreadableError(Exception):
    def __str__(self) -> str:
        raise ValueError("its text is broken")


class BrokenVenue:
    id = "broken"

    def create_order(self, symbol, type, side, amount, price=None, params=None):  # noqa: A002, ANN001, ANN201
        raise UnreadableError("create failed")

    def fetch_order(self, id, symbol, params=None):  # noqa: A002, ANN001, ANN201
        raise UnreadableError("lookup failed")

    def fetch_positions(self, symbols):  # noqa: ANN001, ANN201
        raise UnreadableError("positions failed")


def test_describe_names_the_type_of_an_error_whose_text_raises():
    assert describe(UnreadableError()) == "UnreadableError: (its message cannot be read)"


def test_a_failed_close_with_an_unreadable_error_is_a_counted_failed_attempt():
    executor = CommandExecutor(SYM, BrokenVenue(), on_escalate=lambda s, e: None, log=logger)
    order = Order(client_order_id="main-t1-BTC-7c", purpose=OrderPurpose.CLOSE, side="sell",
                  amount=D(1), reduce_only=True)
    events = executor.execute(PlaceOrder(order=order))
    assert len(events) == 1 and isinstance(events[0], OrderFailed)
    assert events[0].never_reached is False  # it may have landed: counted, backed off
    assert "UnreadableError" in events[0].error
