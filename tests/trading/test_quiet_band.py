"""The quiet band (the actor's fast path for a tick that changes nothing) against `decide`.

Property: whenever the band says a price is quiet, `decide` on that price returns no command, no
journal entry, no ledger entry and the same state except `last_price`. And a shell that skips
`decide` for quiet prices makes exactly the same decisions as one that decides every price.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.decide import SymbolCore
from trading.events import OrderFailed, PriceTicked, SignalRaised
from trading.model import Phase, Side, SymbolState, TrailingState

D = Decimal
prices = st.decimals(min_value=D("90"), max_value=D("110"), places=1)
actions = st.lists(st.tuples(prices, st.sampled_from(["", "", "", "long", "short", "exit", "ack_off"]),
                             st.floats(min_value=0, max_value=5)), min_size=1, max_size=120)
riskier = st.sampled_from([{}, {"take_profit_pct": D("2")}, {"trailing_step_pct": D("0")},
                           {"stop_loss_pct": D("0.5"), "trailing_activation_pct": D("0.2")}])


def FastScenario(core: SymbolCore) -> Scenario:  # noqa: N802 - reads like the class it was
    """Prices through the production loop's tick path: the quiet band's shortcut, as in the actor."""
    return Scenario(core, quiet_prices=True)


def drive(sc: Scenario, steps: list[tuple[Decimal, str, float]]) -> None:
    for price, action, dt in steps:
        if action == "ack_off":  # the exchange answers no stop placement: protect() retries
            sc.auto_exchange = not sc.auto_exchange
        sc.send(PriceTicked(price=price), dt=dt)
        if action in ("long", "short"):
            sc.send(SignalRaised(side=Side(action)), dt=0.1)
        elif action == "exit":
            sc.send(SignalRaised(side=None))


def observed(sc: Scenario) -> list[tuple]:
    return [(d.commands, d.journal, d.ledger) for d in sc.decisions
            if d.commands or d.journal or d.ledger]


@settings(max_examples=150, deadline=None)
@given(steps=actions, risk=riskier)
def test_fast_path_makes_the_same_decisions_as_deciding_every_price(steps, risk):
    full = Scenario(SymbolCore(make_rules(**risk)))
    fast = FastScenario(SymbolCore(make_rules(**risk)))
    drive(full, steps)
    drive(fast, steps)
    assert observed(fast) == observed(full)
    assert fast.state == full.state
    assert fast.state.last_price == full.state.last_price


@settings(max_examples=150, deadline=None)
@given(steps=actions, risk=riskier, ticks=st.integers(min_value=-15, max_value=15),
       dt=st.floats(min_value=0, max_value=10))
def test_a_quiet_price_changes_nothing_but_last_price(steps, risk, ticks, dt):
    sc = Scenario(SymbolCore(make_rules(**risk)))
    drive(sc, steps)
    probe = (sc.state.last_price or D("100")) + ticks * D("0.1")  # near the bounds
    band = sc.core.quiet_band(sc.state)
    now = sc.now + dt
    if band is None or not band.contains(probe, now):
        return
    d = sc.core.decide(sc.state, PriceTicked(price=probe), now)
    assert not d.changed and not d.commands and not d.journal and not d.ledger
    assert d.state == sc.state
    assert d.state.last_price == probe and d.state.finished_orders == ()
    # every field, including the ones equality ignores
    assert replace(d.state, last_price=sc.state.last_price, finished_orders=sc.state.finished_orders) == sc.state


def open_long(core: SymbolCore) -> Scenario:
    sc = Scenario(core)
    sc.send(PriceTicked(price=D("100")), dt=1)
    sc.send(SignalRaised(side=Side.LONG), dt=1)
    assert sc.state.phase is Phase.OPEN and sc.state.stop_price == D("99")
    return sc


def test_band_of_an_open_long_is_between_its_protective_and_favourable_levels():
    core = SymbolCore(make_rules())
    sc = open_long(core)
    band = core.quiet_band(sc.state)
    assert band is not None
    assert band.contains(D("99.1"), sc.now) and band.contains(D("100.4"), sc.now)
    assert not band.contains(D("99"), sc.now)  # the stop
    assert not band.contains(D("100.5"), sc.now)  # trailing activation
    sc.send(PriceTicked(price=D("101")))  # activates: best 101, trigger 100.6
    assert sc.state.trailing.state is TrailingState.ACTIVE
    band = core.quiet_band(sc.state)
    assert band.contains(D("101"), sc.now) and band.contains(D("100.7"), sc.now)
    assert not band.contains(D("101.1"), sc.now)  # a new best moves the trigger
    assert not band.contains(D("100.6"), sc.now)  # crosses the trailing trigger
    assert band.contains_price(D("100.8"))


def test_a_due_stop_placement_makes_the_band_time_limited():
    core = SymbolCore(make_rules())
    sc = Scenario(core, auto_exchange=False)
    sc.send(PriceTicked(price=D("100")), dt=1)
    (entry,) = sc.send(SignalRaised(side=Side.LONG), dt=1).commands
    (fill,) = sc.exchange_reply(entry)
    (place_stop,) = sc.send(fill).commands
    sc.send(OrderFailed(client_order_id=place_stop.order.client_order_id, error="rejected"))
    state: SymbolState = sc.state
    assert state.phase is Phase.OPEN and state.needs_stop and not state.orders
    band = core.quiet_band(state)
    assert band is not None and band.until == state.next_stop_at
    assert band.contains(D("100"), state.next_stop_at - 0.1)
    assert not band.contains(D("100"), state.next_stop_at)
    assert not band.contains_price(D("100"))  # the feed wakes the actor for any price
    d = core.decide(state, PriceTicked(price=D("100")), state.next_stop_at)
    assert any(e.type == "StopRequested" for e in d.journal)
