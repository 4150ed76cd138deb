"""The quiet band (the actor's fast path for a tick that changes nothing) against `decide`.

Property: whenever the band says a price is quiet, `decide` on that price returns no command, no
journal entry, no ledger entry and the same state except `last_price`. And a shell that skips
`decide` for quiet prices makes exactly the same decisions as one that decides every price.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.commands import Command, PlaceOrder
from trading.decide import SymbolCore
from trading.events import Event, OrderFailed, PriceTicked, SignalRaised, TimerFired
from trading.model import Phase, Side, SymbolState, TrailingState

D = Decimal
TICK = D("0.1")
# a walk of -2..4 ticks per step in an open position's favour: it reaches the trailing activation
# (5 ticks) and moves between the trigger and the best (3 ticks apart) while stop moves are
# refused or left pending; most runs retry a stop move at a price that is no new best
ACTIONS = [*[""] * 10, *["refuse"] * 6, *["hold"] * 4, *["answer"] * 4, *["timer"] * 3,
           "long", "short", "exit", "ack_off"]
steps_ = st.lists(st.tuples(st.integers(min_value=-2, max_value=4), st.sampled_from(ACTIONS),
                            st.floats(min_value=0, max_value=5)), min_size=60, max_size=120)
# every run starts by opening a position (the band of an open one is where the levels are)
actions = st.tuples(st.sampled_from(["long", "short"]), steps_).map(
    lambda first_rest: [(0, first_rest[0], 1.0), *first_rest[1]])
riskier = st.sampled_from([{}, {"take_profit_pct": D("2")}, {"trailing_step_pct": D("0")},
                           {"stop_loss_pct": D("0.5"), "trailing_activation_pct": D("0.2")},
                           {"amend_stops": True}])


class Venue(Scenario):
    """The exchange's part with answers the test picks: stop placements refused (a 429 that
    never reached the venue) while `refusing`; stop placements (while `holding`) or every
    command (while not `auto_exchange`) left unanswered (PENDING) until `answer_held`."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.refusing = False
        self.holding = False
        self.held: list[Command] = []

    def _execute(self, cmd: Command) -> list[Event]:
        if isinstance(cmd, PlaceOrder) and cmd.order.stop_price is not None and self.refusing:
            return [OrderFailed(client_order_id=cmd.order.client_order_id,
                                error="RateLimitExceeded: 429", never_reached=True)]
        stop = isinstance(cmd, PlaceOrder) and cmd.order.stop_price is not None
        if (stop and self.holding) or not self.auto_exchange:
            self.held.append(cmd)
            return []
        return self.exchange_reply(cmd)

    def answer_held(self) -> None:
        held, self.held = self.held, []
        for cmd in held:
            for ev in self.exchange_reply(cmd):
                self.send(ev)


def FastScenario(core: SymbolCore) -> Venue:  # noqa: N802 - reads like the class it was
    """Prices through the production loop's tick path: the quiet band's shortcut, as in the actor."""
    return Venue(core, quiet_prices=True)


def drive(sc: Venue, steps: list[tuple[int, str, float]]) -> int:
    """Returns how many stop moves were requested at a price that set no new best (retries)."""
    retries = 0
    price = D("100")
    for ticks, action, dt in steps:
        if action == "ack_off":  # the exchange answers nothing until "answer"
            sc.auto_exchange = not sc.auto_exchange
        elif action == "refuse":
            sc.refusing = not sc.refusing
        elif action == "hold":
            sc.holding = not sc.holding
        elif action == "answer":
            sc.answer_held()
        elif action == "timer":
            retries += _retries(sc, TimerFired(), dt)
        pos = sc.state.position
        price = max(D("80"), price + (pos.side.sign if pos else 1) * ticks * TICK)
        retries += _retries(sc, PriceTicked(price=price), dt)
        if action in ("long", "short"):
            sc.send(SignalRaised(side=Side(action)), dt=0.1)
        elif action == "exit":
            sc.send(SignalRaised(side=None))
    return retries


def _retries(sc: Venue, ev: Event, dt: float) -> int:
    best = sc.state.trailing.best_price if sc.state.trailing is not None else None
    start = len(sc.decisions)
    sc.send(ev, dt=dt)
    moves = sum(j.type == "StopMoveRequested" for d in sc.decisions[start:] for j in d.journal)
    after = sc.state.trailing.best_price if sc.state.trailing is not None else None
    return moves if best is not None and after == best else 0


def observed(sc: Scenario) -> list[tuple]:
    return [(d.commands, d.journal, d.ledger) for d in sc.decisions
            if d.commands or d.journal or d.ledger]


@settings(max_examples=150, deadline=None)
@given(steps=actions, risk=riskier)
def test_fast_path_makes_the_same_decisions_as_deciding_every_price(steps, risk):
    full = Venue(SymbolCore(make_rules(**risk)))
    fast = FastScenario(SymbolCore(make_rules(**risk)))
    # the case that matters: a refused or pending stop move due again at a price that is no
    # new best (the band must not call it quiet) or on the timer
    event("stop move retried" if drive(full, steps) else "no stop move retried")
    drive(fast, steps)
    assert observed(fast) == observed(full)
    assert fast.state == full.state
    assert fast.state.last_price == full.state.last_price


@settings(max_examples=150, deadline=None)
@given(steps=actions, risk=riskier, ticks=st.integers(min_value=-15, max_value=15),
       dt=st.floats(min_value=0, max_value=10))
def test_a_quiet_price_changes_nothing_but_last_price(steps, risk, ticks, dt):
    sc = Venue(SymbolCore(make_rules(**risk)))
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


def opened_long(core: SymbolCore) -> Venue:
    sc = FastScenario(core)
    sc.send(PriceTicked(price=D("100")), dt=1)
    sc.send(SignalRaised(side=Side.LONG), dt=1)
    assert sc.state.stop_price == D("99")
    return sc


def test_a_refused_stop_move_is_retried_at_a_price_below_the_best():
    core = SymbolCore(make_rules())
    sc = opened_long(core)
    sc.refusing = True
    sc.send(PriceTicked(price=D("102")), dt=1)  # trigger 101.6: the move to it is refused (429)
    sc.refusing = False
    assert sc.state.stop_price == D("99") and sc.state.trailing.trigger_price == D("101.6")
    assert not core.quiet_band(sc.state).contains_price(D("101.9"))  # the move is due there
    sc.send(PriceTicked(price=D("101.9")), dt=5)
    assert sc.state.stop_price == D("101.6")


def test_a_refused_stop_move_is_retried_on_the_timer_without_a_new_price():
    sc = opened_long(SymbolCore(make_rules()))
    sc.refusing = True
    sc.send(PriceTicked(price=D("102")), dt=1)
    sc.refusing = False
    sc.send(TimerFired(), dt=5)
    assert sc.state.stop_price == D("101.6")
    assert sc.journal_types().count("StopMoveRequested") == 2


def test_a_stop_move_skipped_while_another_was_pending_is_made_once_that_one_is_acknowledged():
    core = SymbolCore(make_rules())
    sc = opened_long(core)
    sc.holding = True
    sc.send(PriceTicked(price=D("101")), dt=1)  # activates: the move to 100.6 stays PENDING
    sc.send(PriceTicked(price=D("102")), dt=1)  # trigger 101.6: one move at a time, it waits
    sc.holding = False
    sc.answer_held()
    assert sc.state.stop_price == D("100.6") and sc.state.trailing.trigger_price == D("101.6")
    assert not core.quiet_band(sc.state).contains_price(D("101.9"))
    sc.send(PriceTicked(price=D("101.9")), dt=1)
    assert sc.state.stop_price == D("101.6")


def test_a_stop_move_due_only_below_some_price_narrows_the_band_to_the_prices_above_it():
    # a move is due when trigger - stop >= price * step / 100: 2.6 >= price * 2.55%, i.e. at
    # prices up to 101.96..., so not at the new best 102 but at 101.9 below it
    core = SymbolCore(make_rules(trailing_step_pct=D("2.55")))
    sc = opened_long(core)
    sc.send(PriceTicked(price=D("102")), dt=1)
    assert sc.state.stop_price == D("99") and sc.state.trailing.trigger_price == D("101.6")
    band = core.quiet_band(sc.state)
    assert band.contains_price(D("102")) and band.contains_price(D("101.97"))
    assert not band.contains_price(D("101.96"))
    for price, moves in (("101.97", False), ("101.96", True)):
        d = core.decide(sc.state, PriceTicked(price=D(price)), sc.now)
        assert any(j.type == "StopMoveRequested" for j in d.journal) is moves
    sc.send(PriceTicked(price=D("101.9")), dt=1)
    assert sc.state.stop_price == D("101.6")
