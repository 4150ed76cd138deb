"""A limit order inside the spread is not marketable: on a venue a buy below the best ask (a
sell above the best bid) joins the book and fills later as a maker, at its price and the
maker rate. The paper exchange's book quotes bid and ask `slippage_bps` around the price
(its ticker); a limit buy between the price and the ask filled at once as a taker at its own
price, better than anyone offered."""

from __future__ import annotations

from decimal import Decimal as D

from exchange.paper import PaperExchange
from tests.exchange.paper.paper_support import BTC


def test_a_limit_buy_inside_the_spread_rests_and_fills_as_maker(ex: PaperExchange,
                                                                 market) -> None:
    ticker = ex.fetch_tickers([BTC])[BTC]
    assert (ticker.bid, ticker.last, ticker.ask) == (D("59994.0"), D("60000"), D("60006.0"))
    order = ex.create_order(BTC, "limit", "buy", D("0.01"), D("60003"))
    assert order.status == "open" and ex.fetch_my_trades() == []
    market.move(BTC, "60002")  # a trade below the bid it joined: filled
    [trade] = ex.fetch_my_trades(BTC)
    assert (trade.price, trade.taker_or_maker, trade.fee.cost) == (
        D("60003"), "maker", D("0.1200060"))


def test_a_limit_sell_inside_the_spread_rests(ex: PaperExchange) -> None:
    order = ex.create_order(BTC, "limit", "sell", D("0.01"), D("59997"))
    assert order.status == "open" and ex.fetch_my_trades() == []


def test_a_limit_through_the_ask_still_fills_at_once_as_taker(ex: PaperExchange) -> None:
    order = ex.create_order(BTC, "limit", "buy", D("0.01"), D("60006"))
    assert order.status == "closed" and order.average == D("60006.0")
    assert ex.fetch_my_trades()[0].taker_or_maker == "taker"
