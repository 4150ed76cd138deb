"""Setting a symbol's leverage changes the account on the venue: on a cluster node it is fenced
by the account's lease like every other send (a real paper exchange behind the fence)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from cluster.fenced_port import FencedExchange
from cluster.lease import LeaseLost
from exchange.paper.exchange import PaperExchange
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices


class Keeper:
    account = "main"
    node_id = "node-a"

    def __init__(self) -> None:
        self.acting: Any = object()

    def acting_lease(self) -> Any:
        return self.acting

    def last_lease(self) -> None:
        return None


def test_leverage_is_set_while_the_lease_is_held_and_never_after(tmp_path) -> None:
    paper = PaperExchange(store_path=tmp_path / "p.db", symbols=[BTC],
                          price_source=ScriptedPrices({BTC: D("100")}), clock=FakeClock())
    keeper = Keeper()
    port = FencedExchange(paper, keeper)  # type: ignore[arg-type]
    try:
        port.set_leverage(3, BTC)
        assert paper.leverages == {BTC: 3}
        keeper.acting = None  # the lease may no longer be acted on
        with pytest.raises(LeaseLost):
            port.set_leverage(4, BTC)
        assert paper.leverages == {BTC: 3}
    finally:
        paper.close()
