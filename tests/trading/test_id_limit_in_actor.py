"""A symbol whose client order ids cannot fit the venues' limit on this account is refused when
its actor is built (never with shortened, colliding ids): that one symbol is quarantined with a
one-line reason, every other symbol trades."""

from __future__ import annotations

from storage import queries
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

TOO_LONG = "1000000BABYDOGEXYZW/USDT:USDT"  # 19-character code: 10 + 19 + 10 > 36
BTC = "BTC/USDT:USDT"


def test_a_symbol_whose_ids_cannot_fit_is_quarantined_and_the_others_trade(tmp_path):
    h = Harness(tmp_path, [TOO_LONG, BTC]).start()
    try:
        wait_until(lambda: h.child(TOO_LONG).state.value == "quarantined", timeout=20,
                   message="the symbol with too long ids quarantined")
        error = h.child(TOO_LONG).last_failure["error"]
        assert error.startswith(f"ValueError: {TOO_LONG}: its client order ids")
        assert "never shortened" in error and "\n" not in error
        h.poll()
        assert h.signal(BTC, Side.LONG)
        h.idle(BTC)
        assert h.exchange_position(BTC) is not None and h.exchange_stops(BTC)
        types = [e["type"] for e in queries.events(BTC)]
        assert "EntryRequested" in types and "PositionOpened" in types
    finally:
        h.stop()
