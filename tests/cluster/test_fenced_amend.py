"""A Bybit stop move amends in place: on a cluster node that amend is fenced like every other
send, and the node amends only when the wrapped gateway can."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from cluster.fenced_port import FencedExchange
from cluster.lease import LeaseLost


class Keeper:
    account = "main"
    node_id = "node-a"

    def __init__(self) -> None:
        self.acting: Any = object()

    def acting_lease(self) -> Any:
        return self.acting

    def last_lease(self) -> None:
        return None


class Gateway:
    id = "bybit"
    can_amend_stops = True
    send_grace_s = 60.0  # the ccxt gateway's (exchange/port.py)

    def __init__(self) -> None:
        self.amends: list[tuple[Any, ...]] = []

    def amend_stop(self, *args: Any) -> str:
        self.amends.append(args)
        return "amended"


def test_amend_goes_out_while_the_lease_is_held_and_never_after() -> None:
    gateway, keeper = Gateway(), Keeper()
    port = FencedExchange(gateway, keeper)  # type: ignore[arg-type]
    assert port.can_amend_stops is True
    assert port.amend_stop("BTC/USDT:USDT", "1", "main-x", "sell", Decimal("99")) == "amended"
    keeper.acting = None  # the lease may no longer be acted on
    with pytest.raises(LeaseLost):
        port.amend_stop("BTC/USDT:USDT", "1", "main-x", "sell", Decimal("98"))
    assert len(gateway.amends) == 1


def test_a_gateway_that_cannot_amend_is_not_made_to() -> None:
    gateway = Gateway()
    gateway.can_amend_stops = False
    assert FencedExchange(gateway, Keeper()).can_amend_stops is False  # type: ignore[arg-type]
