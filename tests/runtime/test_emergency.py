"""The one emergency close on a hedge-mode exchange: every leg closed with its own positionIdx,
the stops kept until then, each order journaled before it is sent."""

from __future__ import annotations

from decimal import Decimal as D

from loguru import logger

from exchange.paper.exchange import PaperExchange
from runtime.emergency import EmergencyCloser
from storage import queries
from storage.repository import Repository
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices


def test_hedge_legs_are_each_closed_with_their_position_idx(tmp_path):
    clock = FakeClock()
    paper = PaperExchange(
        store_path=tmp_path / "paper.sqlite",
        symbols=[BTC],
        clock=clock,
        price_source=ScriptedPrices({BTC: D(100)}),
        hedge_mode=True,
        starting_balance=D(10000),
        slippage_bps=D(0),
    )
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    try:
        paper.create_order(
            BTC, "market", "buy", D(1), None, {"positionIdx": 1, "clientOrderId": "l1"}
        )
        paper.create_order(
            BTC, "market", "sell", D(2), None, {"positionIdx": 2, "clientOrderId": "s1"}
        )
        paper.create_order(
            BTC, "limit", "buy", D(1), D(90), {"positionIdx": 1, "clientOrderId": "lvl"}
        )
        done = []
        closer = EmergencyCloser(
            exchange=paper, repo=repo, prefix=f"acc-{repo.id_tag}-", logger=logger, clock=clock
        )
        closer.close(BTC, "leg close failed 3 times", lambda: done.append(True))
        closer.wait()
        assert done == [True]
        assert [p for p in paper.fetch_positions([BTC]) if p["contracts"] > 0] == []
        sent = [s for s in paper.submissions() if s["clientOrderId"].endswith("x")]
        assert sorted((s["side"], s["params"]["positionIdx"]) for s in sent) == [
            ("buy", 2),
            ("sell", 1),
        ]
        assert all(s["params"]["reduceOnly"] for s in sent)
        assert paper.fetch_open_orders(BTC) == []  # the resting level was cancelled first
        journaled = repo.read(queries.events, BTC, "EmergencyCloseRequested")
        assert sorted(e["data"]["order"] for e in journaled) == sorted(
            s["clientOrderId"] for s in sent
        )
    finally:
        repo.close()
        paper.close()
