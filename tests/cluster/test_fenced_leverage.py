"""Setting a symbol's leverage changes the account on the venue: on a cluster node it is fenced
by the account's lease like every other send (a real paper exchange behind the fence)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from cluster.fenced_port import FencedExchange
from cluster.lease import LeaseLost
from exchange.paper.exchange import PaperExchange
from tests.cluster.test_fenced_amend import Keeper
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices


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
