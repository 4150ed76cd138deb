"""A Bybit liquidation (execType BustTrade) or auto-deleveraging (AdlTrade) closes a position
with no order of ours. ccxt 4.5.90's bybit.fetch_my_trades asks /v5/execution/list for
execType=Trade only, and the endpoint takes one type, so the reconciliation's trade read never
saw the fill: the liquidated position stayed open in the books, a stop was re-sent on the flat
symbol at every reconciliation and the symbol escalated (found by review). Real ccxt.bybit
through the gateway against the emulator, which filters execType as Bybit documents; then the
reconciliation read (actors/exchange_snapshot.gather) and the one-way core."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from actors import exchange_snapshot
from tests.exchange.ccxt.ccxt_fixtures import PRICES, make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.model import Phase, Position, Side, SymbolState

BTC = "BTC/USDT:USDT"


def execution(exec_id: str, exec_type: str, price: str, at_ms: int, pnl: str) -> dict[str, Any]:
    return {"symbol": "BTCUSDT", "orderId": f"sys-{exec_id}", "orderLinkId": "", "side": "Sell",
            "orderPrice": price, "orderQty": "0.01", "leavesQty": "0", "orderType": "Market",
            "stopOrderType": "UNKNOWN", "execFee": "0.2475", "execId": exec_id,
            "execPrice": price, "execQty": "0.01", "execType": exec_type,
            "execValue": str(D(price) * D("0.01")), "execTime": str(at_ms),
            "feeCurrency": "USDT", "isMaker": False, "feeRate": "0.00055", "tradeIv": "",
            "markIv": "", "markPrice": price, "indexPrice": "", "underlyingPrice": "",
            "blockTradeId": "", "seq": 1, "closedSize": "0.01", "execPnl": pnl}


class Liquidated(BybitVenue):
    """The account's long was liquidated: the venue lists the position flat."""

    def h_v5_position_list(self, p):
        row = {"positionIdx": 0, "symbol": "BTCUSDT", "side": "", "size": "0", "avgPrice": "0",
               "positionValue": "0", "markPrice": "45000", "leverage": "10", "liqPrice": "",
               "bustPrice": "", "unrealisedPnl": "0", "createdTime": "1",
               "updatedTime": str(self.book.now_ms), "positionStatus": "Normal",
               "tradeMode": 0}
        return self._ok({"category": "linear", "list": [row], "nextPageCursor": ""})


def test_a_liquidation_fill_is_read_and_closes_the_position_in_the_books(tmp_path):
    venue = Liquidated(Book(PRICES))
    emu = EmulatorServer(venue).start()
    try:
        gw = make_gateway("bybit", emu, tmp_path)
        gw.load_markets()
        venue.book.place(cid="acct-BTC-1-e", symbol="BTCUSDT", side="buy", type="market",
                         qty=D("0.01"), price=None, trigger=None, trigger_direction=None,
                         reduce_only=False)
        now = venue.book.now_ms
        venue.forced += [execution("fund-1", "Funding", "47000", now + 30_000, "0"),
                         execution("bust-1", "BustTrade", "45000", now + 60_000, "-50")]
        fills = gw.fetch_my_trades(BTC, now - 1000)
        assert [(f.id, f.side, f.price) for f in fills] == [
            (fills[0].id, "buy", D("50000")), ("bust-1", "sell", D("45000"))]  # no funding row
        assert fills[1].realized_pnl == D("-50") and fills[1].fee_cost == D("0.2475")
        assert len({f.id for f in gw.fetch_my_trades(BTC, now - 1000)}) == 2  # each once

        core = SymbolCore(make_rules())
        state = SymbolState(symbol=BTC, phase=Phase.OPEN, position=Position(
            position_id="acct-BTC-1-e", side=Side.LONG, contracts=D("0.01"),
            entry_price=D("50000"), opened_at=now / 1000))
        seen = exchange_snapshot.gather(gw, state, booked={"acct-BTC-1-e"})
        assert seen.position is None and [f.amount for f in seen.external_fills] == [D("0.01")]
        d = core.decide(state, seen, now / 1000 + 120)
        assert d.state.position is None and d.state.phase is Phase.FLAT
        closed = [j for j in d.journal if j.type == "PositionClosed"]
        assert len(closed) == 1 and closed[0].realized_pnl == D("-50.00")
        assert [(e.price, e.amount) for e in d.ledger] == [(D("45000"), D("0.01"))]
        gw.close()
    finally:
        emu.stop()


def test_a_liquidation_while_no_socket_was_open_reaches_its_symbol_with_the_gap_fill(tmp_path):
    """With the streams up, a liquidation reaches its symbol as an unknown fill (the execution
    topic carries BustTrade; the actor then reconciles). One made while no socket was open was
    in no stream message, and the gap fill read the venue's executions of type Trade only (the
    all-symbol read, ccxt's default), so nothing told the symbol: the position stayed open in
    the books until the next periodic reconciliation (300 s while the streams are up). The gap
    fill now also reads BustTrade and AdlTrade. Real ccxt.pro streams, gateway and feeds
    against the Bybit emulators."""
    import time

    from tests.exchange.ccxt.stream_rig import StreamRig
    from tests.support.waiting import wait_until

    rig = StreamRig("bybit", tmp_path).start()
    try:
        rig.wait_mode("stream")
        cid = rig.buy()
        rig.wait_delivered(cid)
        assert not any(a.unknown for a in rig.activity_of(BTC))
        rig.ws.refuse(True)
        rig.ws.drop_all()
        rig.wait_mode("rest")
        rig.venue.forced.append(execution("bust-1", "BustTrade", "45000",
                                          int(time.time() * 1000), "-50"))
        rig.ws.refuse(False)
        rig.wait_mode("stream")
        wait_until(lambda: any(a.unknown for a in rig.activity_of(BTC)), timeout=10,
                   message="the liquidation's fill reported to BTC")
    finally:
        rig.stop()


def test_the_rest_fills_poll_reads_liquidations_every_few_seconds_not_every_poll(tmp_path):
    """The REST feed's fills poll (streams down, or off) read executions of type Trade only, so
    a liquidation there reached its symbol only at the next reconciliation (30 s). Asking for
    BustTrade and AdlTrade too at every poll would triple the poll's execution reads (2 a poll,
    4 a second at the 0.5 s default, over the 5/s ccxt's cost table leaves at the default
    budget share); so they are asked for every FORCED_EVERY_S, each read from the poll's start,
    which trails the newest trade by 60 s (market_feed.SINCE_LAG_MS): nothing between two of
    them is left out."""
    from exchange.ccxt.own_fills import FORCED_EVERY_S
    from tests.exchange.ccxt.ccxt_fixtures import FakeTime

    fake = FakeTime()
    venue = BybitVenue(Book(PRICES))
    emu = EmulatorServer(venue).start()
    try:
        gw = make_gateway("bybit", emu, tmp_path, fake=fake)
        gw.load_markets()
        since = venue.book.now_ms
        venue.forced.append(execution("bust-1", "BustTrade", "45000", since + 1_000, "-50"))

        def types_read() -> list[str]:
            reads = [r.params.get("execType") for r in emu.hits("/v5/execution/list")]
            emu.clear()
            return reads

        emu.clear()
        fills = gw.poll_updates(since)  # the REST feed's poll
        assert [(f.id, f.client_order_id) for f in fills] == [("bust-1", None)]
        assert types_read() == ["Trade", "BustTrade", "AdlTrade"]
        gw.poll_updates(since)
        fake.now += FORCED_EVERY_S / 2
        assert gw.poll_updates(since) == [] and types_read() == ["Trade", "Trade"]
        fake.now += FORCED_EVERY_S / 2
        gw.poll_updates(since)
        assert types_read() == ["Trade", "BustTrade", "AdlTrade"]
        gw.close()
    finally:
        emu.stop()
