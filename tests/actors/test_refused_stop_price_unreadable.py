"""A stop the venue refuses is decided even when the price read that follows it fails
(actors/exchange_facts.py `with_market_price`: an unreadable price leaves the refusal to be
decided on the last price seen). Found by the mutation audit: letting that read's error out
survived every test naming the module (their reads succeed or are fenced). With it the read's
NetworkError went out of the decision: the refusal of the open position's only stop was never
decided (no retry, no close through the level), and the actor's message failed on it.

Production DecisionLoop, SymbolCore and CommandExecutor, a real SQLite Repository, the fake
one-way venue of tests/actors/test_cancel_reports_fill.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from actors.messages import ExternalSignal
from exchange import errors
from tests.actors.test_cancel_reports_fill import Venue, one_way
from trading.model import OrderPurpose, Phase, Side


class RefusingVenue(Venue):
    """Refuses stop orders (the price ran through the level) while `refuse`; its ticker read
    fails while `dark`."""

    refuse = True
    dark = False

    def create_order(self, symbol, type, side, amount, price=None, params=None) -> Any:
        if self.refuse and (params or {}).get("stopLossPrice") is not None:
            raise errors.InvalidOrder("Order would immediately trigger (-2021)")
        return super().create_order(symbol, type, side, amount, price, params)

    def fetch_tickers(self, symbols=None, params=None) -> Any:
        if self.dark:
            raise errors.NetworkError("ticker read timed out")
        return super().fetch_tickers(symbols, params)


def test_a_refused_stop_is_decided_when_the_price_after_it_cannot_be_read(
        tmp_path: Path) -> None:
    venue = RefusingVenue()
    bot = one_way(tmp_path, venue)
    bot.tick("100")
    venue.dark = True
    bot.send(ExternalSignal(side=Side.LONG, signal_id="s1"))  # entry fills; its stop refused
    state = bot.loop.state
    assert state.phase is Phase.OPEN
    assert not state.live_orders(OrderPurpose.STOP), state.orders  # the refusal was decided
    assert [w for w in bot.log.warnings if "unreadable" in w], bot.log.warnings
