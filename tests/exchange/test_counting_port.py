"""The port wrapper that counts calls by method and errors by kind for /metrics: real paper
exchange behind it, its errors pass through unchanged and are counted by their class."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.counting import CountingPort
from exchange.paper.exchange import PaperExchange
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices


def test_calls_are_counted_by_method_and_errors_by_kind(tmp_path):
    clock = FakeClock()
    paper = PaperExchange(store_path=tmp_path / "p.db", symbols=[BTC],
                          price_source=ScriptedPrices({BTC: D("100")}), clock=clock)
    port = CountingPort(paper)
    try:
        assert port.id == paper.id and port.fetch_tickers([BTC])[BTC].last == D("100")
        port.create_order(BTC, "market", "buy", D("0.1"), None, {"clientOrderId": "c-1"})
        with pytest.raises(errors.OrderNotFound):
            port.fetch_order(None, BTC, {"clientOrderId": "nobody"})
        with pytest.raises(errors.InvalidOrder):
            port.create_order(BTC, "market", "sell", D("0.1"), None,
                              {"clientOrderId": "c-1"})  # the same client id again
        counts = port.counts()
        assert counts["calls"] == {"fetch_tickers": 1, "create_order": 2, "fetch_order": 1}
        assert counts["errors"] == {"OrderNotFound": 1, "InvalidOrder": 1}
        assert getattr(port, "no_such_capability", None) is None  # capability checks see the truth
    finally:
        paper.close()


def test_funding_reads_are_counted_too(tmp_path):
    """The funding feed reads payments through the port (actors/funding_feed.py) every few
    minutes; those calls and their errors were missing from bot_exchange_calls_total."""
    paper = PaperExchange(store_path=tmp_path / "p.db", symbols=[BTC],
                          price_source=ScriptedPrices({BTC: D("100")}), clock=FakeClock())
    port = CountingPort(paper)
    try:
        assert port.fetch_funding_history(None, 0) == []
        assert port.counts()["calls"] == {"fetch_funding_history": 1}
    finally:
        paper.close()


def test_leverage_sets_are_counted(tmp_path):
    """The leverage set before a symbol's first entry (actors/leverage.py) is a port call like
    the others: counted, and its refusal counted by kind."""
    paper = PaperExchange(store_path=tmp_path / "p.db", symbols=[BTC],
                          price_source=ScriptedPrices({BTC: D("100")}), clock=FakeClock())
    port = CountingPort(paper)
    try:
        port.set_leverage(3, BTC)
        with pytest.raises(errors.BadSymbol):
            port.set_leverage(3, "FOO/USDT:USDT")
        assert port.counts() == {"calls": {"set_leverage": 2}, "errors": {"BadSymbol": 1}}
        assert paper.leverages == {BTC: 3}
    finally:
        paper.close()
