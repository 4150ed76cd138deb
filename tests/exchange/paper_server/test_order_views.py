"""An order partly filled, then cancelled, as the bybit views answer it: read back by the real
ccxt `bybit` class (4.5.90) and the bot's gateway converter, it is the record the paper
exchange gave (cancelled, with its fill)."""

from __future__ import annotations

from decimal import Decimal as D

import ccxt

from exchange.ccxt import convert
from exchange.paper.exchange import PaperExchange
from exchange.paper_server import bybit_views
from exchange.paper_server.bybit_api import BybitApi
from exchange.records import Fee, PositionSide, VenueOrder, VenueOrderStatus
from tests.exchange.paper.paper_support import BTC
from tests.exchange.paper_server.test_bybit_api import in_process_client


def test_a_partly_filled_then_cancelled_order_reads_as_cancelled_with_its_fill(
    paper: PaperExchange,
) -> None:
    """Bybit v5 (enum orderStatus): PartiallyFilledCanceled is a spot status only; a linear
    order cancelled after a partial fill is `Cancelled` with its cumExecQty. The view answered
    PartiallyFilledCanceled, which ccxt 4.5.90 maps to 'closed': the gateway read a cancelled
    order, half of it never traded, as a closed (done) order."""
    client = in_process_client(BybitApi(paper))
    client.load_markets()
    cancelled = VenueOrder(
        id="7", client_order_id="part-1", symbol=BTC, side="buy", type="limit",
        status=VenueOrderStatus.CANCELED, amount=D("0.02"), filled=D("0.01"),
        average=D("59000"), price=D("59000"), position_side=PositionSide.NET,
        fee=Fee(cost=D("0.118"), currency="USDT"), timestamp=1_700_000_000_000,
        last_fill_at=1_700_000_001_000)
    row = bybit_views.order("BTCUSDT", cancelled)
    assert (row["orderStatus"], row["cumExecQty"]) == ("Cancelled", "0.01")
    parsed = client.parse_order(row, client.market(BTC))
    assert (parsed["status"], parsed["filled"]) == ("canceled", 0.01)
    assert convert.order(parsed, settle="USDT", exchange_id="bybit") == cancelled


def test_the_markets_limits_read_back_as_the_paper_exchanges(paper: PaperExchange) -> None:
    """The instrument's lotSizeFilter / priceFilter (ccxt's precision and limits, the
    gateway's VenueMarket): the bot sizes each order by the market's minimum amount, step,
    tick and minimum cost; a minimum read as 0 sent orders the server then refused."""
    client = in_process_client(BybitApi(paper))
    raw = client.load_markets()[BTC]
    theirs = convert.market(raw, tick_size_mode=client.precisionMode == ccxt.TICK_SIZE)
    mine = paper.market(BTC)
    assert theirs.min_amount and theirs.min_amount > 0
    assert (theirs.min_amount, theirs.amount_step, theirs.price_tick, theirs.min_cost) == (
        mine.min_amount, mine.amount_step, mine.price_tick, mine.min_cost)
