"""Binance numbers orders per symbol ("orderId is self-increasing for each specific symbol",
USDⓈ-M Query Order) and its userTrades carry only the orderId, so the gateway remembers the
client id of each order it created (exchange/ccxt/client_id_memo.py). The memo was keyed by the
order id alone: a trade of another symbol's order with the same id took our order's client id,
and its fill went to its symbol's actor under an id that actor does not have (ignored, and not
reported as an unknown fill either). Keyed by symbol and id now, like the trade ids
(actors/trade_ids.py) and the stream's order updates. Real ccxt.binanceusdm against the
emulator, whose orders are found by id within their symbol as on the venue."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal as D
from pathlib import Path

from exchange.ccxt.gateway import CcxtGateway
from exchange.records import VenueOrder
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator, make_gateway
from tests.exchange.ccxt.emu_server import EmulatorServer

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def _buy(gw: CcxtGateway, cid: str) -> VenueOrder:
    """A market buy of 0.002 BTC under `cid` (ours, or a stranger's on the account)."""
    return gw.create_order(BTC, "market", "buy", D("0.002"), None, {"clientOrderId": cid})


@contextmanager
def _restarted(emu: EmulatorServer, tmp_path: Path) -> Iterator[CcxtGateway]:
    """A new gateway on the same emulator, its markets loaded: a restart, nothing remembered."""
    fresh = make_gateway("binanceusdm", emu, tmp_path)
    try:
        fresh.load_markets()
        yield fresh
    finally:
        fresh.close()


def test_a_trade_of_another_symbols_order_with_the_same_id_is_not_taken_for_ours(tmp_path):
    with gateway_on_emulator("binanceusdm", tmp_path) as (gw, emu):
        ours = _buy(gw, "acct-BTC-1e")
        book = emu.venue.book
        with book.lock:  # someone's ETH order on the account, numbered like ours on BTC
            theirs = book.place(cid="web-eth-1", symbol="ETHUSDT", side="buy", type="market",
                                qty=D("0.1"), price=None, trigger=None, trigger_direction=None,
                                reduce_only=False, extra={"positionSide": "BOTH"})
            del book.orders[theirs.oid]
            theirs.oid = str(ours.id)
            book.orders["eth-" + theirs.oid] = theirs
        (eth,) = gw.fetch_my_trades(ETH, book.now_ms - 60_000)
        assert eth.order_id == ours.id and eth.client_order_id == "web-eth-1"
        (btc,) = gw.fetch_my_trades(BTC, book.now_ms - 60_000)
        assert btc.client_order_id == "acct-BTC-1e"


def _stop_numbered_like(book, gw, entry_id: str, cid: str):
    """Our stop (a Binance algo order, id = its algoId) numbered like our entry: Binance counts
    algoIds apart from orderIds, so the two can share a number on one symbol."""
    with book.lock:
        book._ids = itertools.count(int(entry_id))
        entry = book.orders.pop(entry_id)
        book.orders["entry-" + entry_id] = entry
    stop = gw.create_order(BTC, "market", "sell", D("0.002"), None, {
        "clientOrderId": cid, "reduceOnly": True, "stopLossPrice": D("40000")})
    assert stop.id == entry_id
    return entry


def test_a_stop_numbered_like_our_order_does_not_take_its_trades(tmp_path):
    """The memo kept the stop's client id under its algoId, over the entry's under the same
    number: the entry's trade (userTrades name only the plain order) came as the stop's."""
    with gateway_on_emulator("binanceusdm", tmp_path) as (gw, emu):
        ours = _buy(gw, "acct-BTC-1e")
        book = emu.venue.book
        _stop_numbered_like(book, gw, str(ours.id), "acct-BTC-1s")
        (btc,) = gw.fetch_my_trades(BTC, book.now_ms - 60_000)
        assert btc.order_id == ours.id and btc.client_order_id == "acct-BTC-1e"


def test_a_trades_order_looked_up_is_never_found_in_the_stop_book(tmp_path):
    """A trade whose order is not in the memo (after a restart) is looked up by its orderId;
    the plain book not answering, the lookup went on to the algo book with that number as an
    algoId and took our stop's client id for a stranger's fill."""
    with gateway_on_emulator("binanceusdm", tmp_path) as (gw, emu):
        theirs = _buy(gw, "web-1")
        book = emu.venue.book
        _stop_numbered_like(book, gw, str(theirs.id), "acct-BTC-1s")
        with book.lock:
            del book.orders["entry-" + str(theirs.id)]  # not listed by the plain book
        with _restarted(emu, tmp_path) as fresh:
            (btc,) = fresh.fetch_my_trades(BTC, book.now_ms - 60_000)
        assert btc.order_id == theirs.id and btc.client_order_id != "acct-BTC-1s"


def test_a_trades_order_is_looked_up_in_the_plain_book_only(tmp_path):
    """A trade names only a plain order, so its order's lookup (not in the memo: a stranger's
    order, or ours after a restart) asks the plain book alone. It went on to the stop book
    (GET /fapi/v1/algoOrder, weight 1) whenever the plain book did not have the order, and
    threw the answer away: one useless request per such trade. Measured: the trade read and
    its order's lookups, 3 requests before, 2 now."""
    with gateway_on_emulator("binanceusdm", tmp_path) as (gw, emu):
        theirs = _buy(gw, "web-1")
        book = emu.venue.book
        with book.lock:  # its order no longer listed (Binance keeps old orders 90 days)
            del book.orders[str(theirs.id)]
        with _restarted(emu, tmp_path) as fresh:
            emu.clear()
            (btc,) = fresh.fetch_my_trades(BTC, book.now_ms - 60_000)
            assert btc.order_id == theirs.id and btc.client_order_id is None
            assert emu.hits("/fapi/v1/algoOrder") == []
            assert [r.path for r in emu.requests] == ["/fapi/v1/userTrades", "/fapi/v1/order"]
            (again,) = fresh.fetch_my_trades(BTC, book.now_ms - 60_000)  # remembered: no lookup
            assert again.client_order_id is None and len(emu.requests) == 3
