"""Rule 4: a graceful stop leaves every open position protected on the exchange while the bot
is down. The stop sends no cancel and no close; the exchange, read afresh from its own store
once the bot is gone, still holds each position and its stop order. Found by the incident-rule
mutation audit: with every actor cancelling its symbol's open orders in `on_stop` (the "clean up
on exit" of many bots), the graceful-stop tests (tests/e2e/test_bot_process.py,
test_rule_1_4_lock_held_until_stopped.py) passed; only a restore test that happened to look at a
quarantined symbol's stop failed.

Real supervisor, actors, SQLite and paper exchange (tests/support/harness.py); the exchange is
wrapped (through the harness's constructor) to count the calls made during the stop."""

from __future__ import annotations

from exchange.paper.exchange import PaperExchange
from exchange.paper.prices import GeneratorPriceSource
from tests.support.faulty_exchange import FaultyExchange
from tests.support.harness import Harness
from trading.model import Side

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def test_a_graceful_stop_leaves_each_position_and_its_exchange_stop_in_place(tmp_path):
    box: dict[str, FaultyExchange] = {}

    def wrap(paper: PaperExchange) -> FaultyExchange:
        box["fx"] = FaultyExchange(paper)
        return box["fx"]

    h = Harness(tmp_path, [BTC, ETH], wrap=wrap).start()
    stopped = False
    try:
        h.poll()
        for symbol in (BTC, ETH):
            assert h.signal(symbol, Side.LONG)
            h.idle(symbol)
            assert h.exchange_position(symbol) is not None and h.exchange_stops(symbol)
        stops = {s: sorted(o.id for o in h.exchange_stops(s)) for s in (BTC, ETH)}
        sent: list[str] = []
        for name in ("cancel_order", "create_order", "cancel_all_orders"):
            box["fx"].before[name] = lambda name, args, kwargs: sent.append(name)
        h.stop()
        stopped = True
        assert sent == []  # the stop cancels nothing and closes nothing
    finally:
        if not stopped:
            h.stop()
    venue = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC, ETH],
                          price_source=GeneratorPriceSource(seed=11, step_ms=1000, speed=1.0,
                                                            epoch_ms=int(h.clock() * 1000)),
                          clock=h.clock)
    try:
        for symbol in (BTC, ETH):
            positions = [p for p in venue.fetch_positions([symbol]) if p.contracts > 0]
            assert len(positions) == 1 and positions[0].side == "long", positions
            resting = sorted(o.id for o in venue.fetch_open_orders(symbol) if o.is_stop)
            assert resting == stops[symbol]  # the same stop, still resting
    finally:
        venue.close()
