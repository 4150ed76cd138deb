"""A fill that no order of ours explains is named by its trade id (`trade-<id>`) when the venue
gives it no client id, and Binance numbers trades per symbol: ETH's trade 1001 and BTC's trade
1001 are two trades. The reconciliation asked the whole ledger whether `trade-1001` was booked,
so once ETH's trade of that number was booked, BTC's close by hand with the same number was
taken for booked and dropped: the position stayed open in the books with nothing that closed
it. Real ccxt binanceusdm against the emulator, the real repository (SQLite), the one-way
core's own snapshot."""

from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

from actors.cores import OneWayCore
from storage.opening import open_repository
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator
from tests.exchange.ccxt.test_trades_week_windows import _open_long, _state
from tests.trading.conftest import make_rules
from trading.commands import LedgerEntry
from trading.decide import SymbolCore
from trading.decision import Decision
from trading.model import SymbolState

ETH = "ETH/USDT:USDT"
BTC = "BTC/USDT:USDT"


def _book_eth_fill(repo, cid: str) -> None:  # noqa: ANN001
    """ETH's own fill of the same trade number, in the ledger through a committed decision."""
    inc = repo.claim(ETH)
    entry = LedgerEntry(client_order_id=cid, position_id="eth-pos", side="buy", amount=D("1"),
                        price=D("3000"), fee=D("0.1"), realized_pnl=D(0))
    repo.commit(ETH, inc, SymbolState(symbol=ETH),
                Decision(state=SymbolState(symbol=ETH), ledger=(entry,)),
                correlation_id="eth", created_at=1.0)


def test_btc_close_by_hand_is_not_hidden_by_eth_trade_of_the_same_number(tmp_path):
    emu = start_emulator("binanceusdm")
    repo = open_repository(SimpleNamespace(url="", synchronous="normal"),
                           path=tmp_path / "bot.sqlite", account="main")
    try:
        fake = FakeTime()
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake)
        gw.load_markets()
        book = emu.venue.book
        opened = _open_long(book, "acct-BTC-1-e")
        book.now_ms += 60_000
        book.place(cid="", symbol="BTCUSDT", side="sell", type="market",
                   qty=D("0.01"), price=None, trigger=None, trigger_direction=None,
                   reduce_only=True)
        fake.now = (book.now_ms + 60_000) / 1000
        core = OneWayCore(SymbolCore(make_rules()))
        state = _state(opened, "acct-BTC-1-e")

        first = core.snapshot(gw, repo, state)  # the entry is not in this ledger: sells only
        (fill,) = [f for f in first.external_fills if f.side == "sell"]
        assert fill.client_order_id is not None and fill.client_order_id.startswith("trade-")
        _book_eth_fill(repo, fill.client_order_id)  # same number, another symbol

        again = core.snapshot(gw, repo, state)

        assert [(f.client_order_id, f.amount) for f in again.external_fills
                if f.side == "sell"] == [(fill.client_order_id, D("0.01"))]
        assert repo.booked_among({fill.client_order_id}, ETH) == {fill.client_order_id}
        assert repo.booked_among({fill.client_order_id}, state.symbol) == set()
        gw.close()
    finally:
        repo.close()
        emu.stop()


def test_a_failed_order_lookup_does_not_name_our_own_fill_by_its_trade_id(tmp_path):
    """Binance's userTrades carry no client id: the gateway looks the order up (after a restart
    it remembers none). A lookup answered 429 named our own close fill `trade-<id>`, an
    unexplained fill, while the order's own lookup later applied the same fill by its client
    id: counted twice. A failed lookup now fails the read (retried), and the fill is named by
    its order once the lookup answers."""
    emu = start_emulator("binanceusdm")
    try:
        fake = FakeTime()
        _open_long(emu.venue.book, "acct-BTC-1-e")
        fake.now = (emu.venue.book.now_ms + 60_000) / 1000
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake)  # fresh: remembers no order
        gw.load_markets()
        emu.fail_next("/fapi/v1/order", 20, status=503,
                      body={"code": -1001, "msg": "Internal error; unable to process your "
                                                      "request. Please try again."})
        names: list[str | None] = []
        for _ in range(2):
            if names:
                emu.clear_faults("/fapi/v1/order")
            try:
                names += [t.client_order_id for t in gw.fetch_my_trades(BTC, 0)]
            except Exception:  # noqa: BLE001 - the read failing is the point
                names.append("read failed")
        assert names[-1] == "acct-BTC-1-e"
        assert all(n in ("read failed", "acct-BTC-1-e") for n in names), names
        gw.close()
    finally:
        emu.stop()
