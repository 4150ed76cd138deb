"""On Binance every position read is the one all-symbol read, shared by every actor's
reconciliation and the fills poll (exchange/ccxt/fresh_read.py). A row of a symbol the
account trades that ccxt cannot parse (a "NaN" mark price: Precise raises ValueError) failed
that shared read, so every other symbol's reconciliation failed with it, for as long as the
venue listed the row: one symbol's bad data stalled them all. That row now fails that
symbol's read alone, with one line naming it and the row; the others read their positions,
and the account's read (the sweep) still fails, naming it. Real ccxt.binanceusdm against
the emulator."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
D = Decimal


def test_a_traded_symbols_unreadable_row_fails_its_own_read_only(tmp_path) -> None:  # noqa: ANN001
    emu = start_emulator("binanceusdm")
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path, symbols=[BTC, ETH], max_attempts=2)
        gw.load_markets()
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-b"})
        gw.create_order(ETH, "market", "buy", D("0.1"), None, {"clientOrderId": "e-e"})
        emu.venue.book.prices["BTCUSDT"] = D("NaN")

        held = [(p.symbol, p.contracts) for p in gw.fetch_positions([ETH])]
        assert held == [(ETH, D("0.1"))]
        for read in (lambda: gw.fetch_positions([BTC]), gw.fetch_positions):
            with pytest.raises(errors.TemporaryError) as raised:
                read()
            message = str(raised.value)
            assert "\n" not in message
            assert f"position row of {BTC}" in message, message
    finally:
        gw.close()
        emu.stop()


def test_the_fills_poll_goes_on_and_asks_for_the_unreadable_symbols_trades(tmp_path) -> None:  # noqa: ANN001
    """The fills poll reads every position first (whose size changed: ActiveSymbols) and took
    the account's read, which raises for such a row: no symbol's fill came from REST while the
    row stayed unreadable. Now the poll goes on, and the symbol whose size it cannot see is
    asked for its trades (a fill on it, here one made by hand, is not missed)."""
    emu = start_emulator("binanceusdm")
    fake = FakeTime()
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake, symbols=[BTC, ETH],
                          max_attempts=2)
        gw.load_markets()
        since = emu.venue.book.now_ms
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "e-b"})
        gw.create_order(ETH, "market", "buy", D("0.1"), None, {"clientOrderId": "e-e"})
        assert sorted(f.client_order_id for f in gw.poll_updates(since)) == ["e-b", "e-e"]
        fake.now += 600  # no symbol ordered or changed lately: none is asked for its trades
        later = emu.venue.book.now_ms
        assert gw.poll_updates(later) == []
        emu.venue.book.place(cid="by-hand", symbol="BTCUSDT", side="buy", type="market",
                             qty=D("0.01"), price=None, trigger=None, trigger_direction=None,
                             reduce_only=False)
        emu.venue.book.prices["BTCUSDT"] = D("NaN")
        assert [f.client_order_id for f in gw.poll_updates(later)] == ["by-hand"]
        gw.create_order(ETH, "market", "sell", D("0.1"), None, {"clientOrderId": "x-e"})
        assert "x-e" in [f.client_order_id for f in gw.poll_updates(later)]
    finally:
        gw.close()
        emu.stop()
