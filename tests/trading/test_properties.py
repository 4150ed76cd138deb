"""Property tests: a trailing stop never loosens; the ledger's P&L equals fills minus fees."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading import trailing_stop as ts
from trading.decide import SymbolCore
from trading.events import PriceTicked, SignalRaised
from trading.model import Side, TrailingState

D = Decimal
prices = st.lists(st.decimals(min_value=D("50"), max_value=D("150"), places=1), min_size=1, max_size=200)
sides = st.sampled_from([Side.LONG, Side.SHORT])


@given(side=sides, path=prices, cb=st.decimals(min_value=D("0.1"), max_value=D("5"), places=2))
def test_trailing_trigger_only_ratchets_in_favour(side, path, cb):
    m = make_rules().market
    t = ts.new_trailing(side, D("100"), D("0.5"), cb, m)
    last = None
    for p in path:
        t = ts.advance(t, side, p, m)
        if t.trigger_price is not None:
            if last is not None:
                assert not ts.better(side, last, t.trigger_price), "trailing stop loosened"
            assert (t.trigger_price / m.price_tick) % 1 == 0
            last = t.trigger_price
    if t.state is TrailingState.ACTIVE:
        assert t.trigger_price is not None


@settings(max_examples=60, deadline=None)
@given(side=sides, path=prices, signals=st.lists(st.sampled_from(["long", "short", "exit", None]), min_size=1, max_size=200))
def test_stop_price_never_loosens_and_ledger_matches_fills(side, path, signals):
    sc = Scenario(SymbolCore(make_rules(trailing_step_pct=D("0"))))
    stops: dict[str, Decimal] = {}
    for i, p in enumerate(path):
        sc.send(PriceTicked(price=p), dt=1)
        s = signals[i % len(signals)]
        if s in ("long", "short"):
            sc.send(SignalRaised(side=Side(s)), dt=200)
        elif s == "exit":
            sc.send(SignalRaised(side=None))
        pos = sc.state.position
        if pos is not None and sc.state.stop_price is not None:
            prev = stops.get(pos.position_id)
            if prev is not None:
                assert not ts.better(pos.side, prev, sc.state.stop_price), "exchange stop loosened"
            stops[pos.position_id] = sc.state.stop_price
    closed = [j for d in sc.decisions for j in d.journal if j.type == "PositionClosed"]
    ledger = sc.ledger()
    closed_ids = {j.data["position_id"] for j in closed}
    booked = sum((l.realized_pnl - l.fee for l in ledger if l.position_id in closed_ids), D(0))
    assert booked == sum((D(j.data["net_pnl"]) for j in closed), D(0))
    # every fill the exchange made appears exactly once in the ledger
    fills = [l.client_order_id for l in ledger]
    assert len(fills) == len(set(fills))
