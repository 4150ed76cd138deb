"""The tick -> order histogram (`bot_tick_to_order_latency_seconds`, README /metrics) counts one
sample per price that caused orders: from the price reaching the actor to its first order, not
each order it caused, and never an order a later message (a person's exit) caused.

Mutation audit of actors/hot_path_metrics.py: keeping the clock running after the first order
(every order of one decision measured: an entry and its stop are two samples of one price) and
keeping it running across a message that is no price (a person's exit then measured from the
price before it) survived every test: the only test of the histogram
(tests/dashboard/test_api_process.py) checks it has samples at all.

Real symbol actors under a real supervisor on the paper exchange (tests/support/harness.py),
their metrics relay attached to a real Prometheus registry (observability/metrics.py)."""

from __future__ import annotations

from actors.hot_path_metrics import MetricsRelay
from observability.metrics import BotMetrics
from tests.support.harness import Harness
from trading.events import SignalRaised
from trading.model import Side

BTC = "BTC/USDT:USDT"


class LongOnce:
    """Wants a long at its first price only (a person closes it later)."""

    name = "long_once"

    def __init__(self) -> None:
        self.wanted = False

    def on_price(self, price, volume, now, position):  # noqa: ANN001, ANN201
        if self.wanted or position is not None:
            return None
        self.wanted = True
        return SignalRaised(side=Side.LONG, reason="strategy")


def _count(metrics: BotMetrics, name: str) -> float:
    return metrics.registry.get_sample_value(f"{name}_count", {"account": "main"}) or 0.0


def test_one_sample_per_price_that_caused_orders_none_for_a_persons_exit(tmp_path):
    metrics = BotMetrics(snapshot=lambda: None)
    relay = MetricsRelay("main")
    relay.attach(metrics)
    strategy = LongOnce()
    # no heartbeat during the test: a Timer takes the price slot as a TickReady does, and a
    # price taken by a Timer is not a price message (under load the harness's 50 ms beat
    # took it first and the histogram had no sample)
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: strategy, metrics=relay,
                heartbeat_interval_s=600.0)
    try:
        h.start()
        h.idle(BTC)  # its start (the first reconciliation) done: the price's entry is not held
        h.poll()  # the price that opens the position: its entry order and its stop
        h.idle(BTC)
        assert h.exchange_position(BTC) is not None and h.exchange_stops(BTC)
        assert _count(metrics, "bot_tick_to_order_latency_seconds") == 1
        assert _count(metrics, "bot_commit_latency_seconds") > 0
        assert _count(metrics, "bot_mailbox_depth_messages") > 0
        position = h.exchange_position(BTC)
        assert h.tick(BTC, position.entry_price)  # a price that causes nothing
        assert h.signal(BTC, None)  # a person's exit: its close order is not a price's
        h.idle(BTC)
        assert h.exchange_position(BTC) is None
        assert _count(metrics, "bot_tick_to_order_latency_seconds") == 1
    finally:
        h.stop()
