"""Property tests: a trailing stop never loosens; the ledger's P&L equals fills minus fees.

The ledger properties are only worth something on examples that trade, so their examples are
built to trade: each one is a list of planned round trips (entry price, side, and how the position
should end: exit signal, exchange stop hit by a gap, trailing stop after a run in favour,
take-profit), turned into a price path that crosses the thresholds the rules define. Every
example asserts that each planned round trip was opened and closed; `event()` reports how they
ended (`pytest --hypothesis-show-statistics`), and `test_share_of_examples_that_trade` fails if
fewer than 90 % of the generated examples close a position or move a stop.

`Scenario` (tests/trading/scenario.py) plays the exchange for market orders and stop placement;
what it does not do, a resting stop filling when the price crosses it, is `fill_crossed_stops`
here: the test sends that fill the way the exchange would report it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_CEILING, Decimal

from hypothesis import event, given, settings, target
from hypothesis import strategies as st

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading import trailing_stop as ts
from trading.decide import SymbolCore
from trading.events import OrderFilled, PriceTicked, SignalRaised
from trading.model import OrderPurpose, OrderStatus, Side, TrailingState
from trading.rules import Rules

D = Decimal
TICK = D("0.1")  # make_rules' price_tick: paths are built in whole ticks so levels are exact
FEE_RATE = D("0.0005")
COOLDOWN_GAP_S = 200  # > make_rules' cooldown_after_loss_s (120): every planned entry may enter
EXITS = ("signal", "stop", "trailing", "take_profit")
MIN_SHARE = 0.9
STOP_FILLS = ("whole", "parts", "repeat")
EXIT_FILLS = {"whole": 1, "parts": 2, "repeat": 1}  # ledger rows a stop fill must book
RISK = make_rules().risk  # the levels the paths are built to cross (or to stay inside)
STOP, ACTIVATION, CALLBACK = RISK.stop_loss_pct, RISK.trailing_activation_pct, \
    RISK.trailing_callback_pct

sides = st.sampled_from([Side.LONG, Side.SHORT])


# in-favour steps from 100.0 past the 0.5 % activation, then a random walk (uniform jumps over
# 50..150 activated at once and then rarely moved the trigger; short walks never activated)
runs = st.lists(st.integers(1, 15), min_size=1, max_size=20).map(lambda s: [6] + s)
walks = st.lists(st.integers(-15, 15), max_size=200)


@given(side=sides, run=runs, walk=walks,
       cb=st.decimals(min_value=D("0.1"), max_value=D("5"), places=2))
def test_trailing_trigger_only_ratchets_in_favour(side, run, walk, cb):
    m = make_rules().market
    steps = [side.sign * s for s in run] + walk
    path = [D(1000 + sum(steps[: i + 1])) * TICK for i in range(len(steps))]
    t = ts.new_trailing(side, D("100"), D("0.5"), cb, m)
    last = None
    moves = 0
    for p in path:
        t = ts.advance(t, side, p, m)
        if t.trigger_price is not None:
            if last is not None:
                assert not ts.better(side, last, t.trigger_price), "trailing stop loosened"
                moves += t.trigger_price != last
            assert (t.trigger_price / m.price_tick) % 1 == 0
            last = t.trigger_price
    assert t.state is TrailingState.ACTIVE and t.trigger_price is not None, "never activated"
    event("trigger moved" if moves else "trigger never moved (one price past activation)")


# -- round trips built to trade ----------------------------------------------------------------
@dataclass(frozen=True, slots=True, kw_only=True)
class Trip:
    """One planned round trip: enter at `entry` (in ticks) on `side`, wander, then end by `exit`."""

    side: Side
    entry: int
    wander: tuple[int, ...]
    """Offsets from the entry in ticks, all inside the quiet zone (no level is crossed)."""
    exit: str
    run: tuple[int, ...] = ()
    """In-favour offsets (ticks) of a trailing or take-profit run, never decreasing."""
    fall: int = 0
    """Ticks the price falls back from the run's peak (trailing) or jumps against (stop)."""
    noise: bool = False
    """Send a redundant entry signal while the position is open (it must be skipped)."""
    stop_fill: str = "whole"
    """How the exchange reports a stop's fill: "whole", in two "parts" (cumulative reports),
    or whole and then the same report again ("repeat": it must book nothing the second time)."""


def ticks_for(entry: int, pct: Decimal) -> int:
    """Ticks that make `pct` percent of a price of `entry` ticks, rounded up."""
    return int((D(entry) * pct / 100).to_integral_value(rounding=ROUND_CEILING))


@st.composite
def trips(draw, take_profit: Decimal | None, kinds: tuple[str, ...] = EXITS) -> Trip:
    side = draw(sides)
    entry = draw(st.integers(500, 1500))  # 50.0 .. 150.0
    quiet = max(ticks_for(entry, min(ACTIVATION, STOP) / 2) - 1, 0)  # crosses no level
    wander = tuple(draw(st.lists(st.integers(-quiet, quiet), max_size=6)))
    kind = draw(st.sampled_from([k for k in kinds if take_profit or k != "take_profit"]))
    noise = draw(st.booleans())
    if kind == "signal":
        return Trip(side=side, entry=entry, wander=wander, exit=kind, noise=noise)
    how = draw(st.sampled_from(STOP_FILLS))
    if kind == "stop":  # a gap through the stop, up to 3 % beyond it
        gap = ticks_for(entry, STOP) + 2 + draw(st.integers(0, ticks_for(entry, D("3"))))
        return Trip(side=side, entry=entry, wander=wander, exit=kind, fall=gap, noise=noise,
                    stop_fill=how)
    if kind == "take_profit":
        assert take_profit is not None
        top = ticks_for(entry, take_profit) + draw(st.integers(0, 5))
        return Trip(side=side, entry=entry, wander=wander, exit=kind, run=(top,), noise=noise)
    # trailing: past the activation in 1-4 rising steps, then back through the callback
    steps = draw(st.lists(st.integers(1, max(ticks_for(entry, D("0.8")), 1)), min_size=1,
                          max_size=4))
    run, level = [], ticks_for(entry, ACTIVATION) + 1
    below_tp = ticks_for(entry, take_profit) - 1 if take_profit else None  # a trailing exit
    for s in steps:
        level = level + s if below_tp is None else min(level + s, below_tp)
        run.append(level)
    callback = ticks_for(entry + run[-1], CALLBACK) + 2  # just through the trigger
    fall = max(run[-1], callback) if draw(st.booleans()) else callback  # or back to the entry
    return Trip(side=side, entry=entry, wander=wander, exit=kind, run=tuple(run), fall=fall,
                noise=noise, stop_fill=how)


@st.composite
def examples(draw, with_trailing_run: bool = False) -> tuple[Rules, list[Trip]]:
    tp = draw(st.sampled_from([None, D("1.5"), D("3")]))
    rules = make_rules(trailing_step_pct=D("0"), take_profit_pct=tp)
    plan = draw(st.lists(trips(tp), min_size=0 if with_trailing_run else 1, max_size=5))
    if with_trailing_run:
        plan.insert(draw(st.integers(0, len(plan))), draw(trips(tp, kinds=("trailing",))))
    return rules, plan


# -- driving the core ---------------------------------------------------------------------------
@dataclass(slots=True, kw_only=True)
class Run:
    """What the drive saw: per closed position, the hand model of its P&L."""

    expected_gross: list[Decimal] = field(default_factory=list)
    stop_moves: int = 0
    exits: list[str] = field(default_factory=list)
    stop_fills: dict[str, str] = field(default_factory=dict)
    """position id -> how the exchange reported the stop fill that closed it."""


def price(ticks: int) -> Decimal:
    return D(ticks) * TICK


def fill_crossed_stops(sc: Scenario, at: Decimal, how: str, run: Run) -> None:
    """The exchange's part Scenario does not play: a resting stop-market order fills when the
    price reaches its trigger, at that price (a gap fills beyond the trigger), reported `how`."""
    pos = sc.state.position
    if pos is None:
        return
    for o in sc.state.live_orders(OrderPurpose.STOP):
        if o.status is OrderStatus.OPEN and o.stop_price is not None and \
                ts.crossed_against(pos.side, at, o.stop_price):
            run.stop_fills[pos.position_id] = how
            reports = [o.amount]
            if how == "parts":
                reports = [sc.core.rules.market.amount_down(o.amount / 2), o.amount]
            elif how == "repeat":
                reports = [o.amount, o.amount]
            for n, filled in enumerate(reports, 1):  # cumulative, as the exchange reports
                sc.send(OrderFilled(client_order_id=o.client_order_id, exchange_id=o.exchange_id,
                                    filled=filled, average=at, fee=filled * at * FEE_RATE,
                                    complete=filled == o.amount))
                assert how != "parts" or n == 2 or sc.state.position is not None, \
                    "a partial stop fill closed the whole position"
            return


def tick(sc: Scenario, ticks: int, run: Run, stops: dict[str, Decimal], dt: float = 1,
         how: str = "whole") -> None:
    """One price: the core's own reaction, then the exchange's (a crossed stop fills)."""
    pos_before = sc.state.position
    p = price(ticks)
    sc.send(PriceTicked(price=p), dt=dt)
    fill_crossed_stops(sc, p, how, run)
    pos = sc.state.position
    if pos is not None and sc.state.stop_price is not None:
        prev = stops.get(pos.position_id)
        if prev is not None:
            assert not ts.better(pos.side, prev, sc.state.stop_price), "exchange stop loosened"
            run.stop_moves += prev != sc.state.stop_price
        stops[pos.position_id] = sc.state.stop_price
    if pos_before is not None and pos is None:
        run.expected_gross.append((p - pos_before.entry_price) * pos_before.contracts
                                  * pos_before.side.sign)


def play(rules: Rules, plan: list[Trip]) -> tuple[Scenario, Run]:
    sc = Scenario(SymbolCore(rules))
    run, stops = Run(), dict[str, Decimal]()
    for n, trip in enumerate(plan):
        sign = trip.side.sign
        tick(sc, trip.entry, run, stops, dt=COOLDOWN_GAP_S)
        sc.send(SignalRaised(side=trip.side))
        pos = sc.state.position
        assert pos is not None, f"trip {n}: entry at {price(trip.entry)} not filled"
        amount = rules.market.amount_down(rules.risk.order_size_usdt / price(trip.entry))
        assert pos.entry_price == price(trip.entry) and pos.contracts == amount
        assert sc.state.stop_price is not None, f"trip {n}: no stop after the entry fill"
        stops[pos.position_id] = sc.state.stop_price
        for off in trip.wander:
            tick(sc, trip.entry + sign * off, run, stops)
        if trip.noise:
            sc.send(SignalRaised(side=trip.side))  # already open: skipped, nothing placed
        if trip.exit == "signal":
            sc.send(SignalRaised(side=None))
            if sc.state.position is None:  # closed at the last price this test sent
                last = price(trip.entry + sign * (trip.wander[-1] if trip.wander else 0))
                run.expected_gross.append((last - pos.entry_price) * pos.contracts * pos.side.sign)
        elif trip.exit == "stop":
            tick(sc, trip.entry - sign * trip.fall, run, stops, how=trip.stop_fill)
        else:
            for off in trip.run:
                tick(sc, trip.entry + sign * off, run, stops, how=trip.stop_fill)
            if trip.fall:
                tick(sc, trip.entry + sign * (trip.run[-1] - trip.fall), run, stops,
                     how=trip.stop_fill)
        assert sc.state.position is None, f"trip {n} ({trip.exit}) did not close: {sc.state}"
    return sc, run


def closed_positions(sc: Scenario) -> list[dict]:
    return [j.data for d in sc.decisions for j in d.journal if j.type == "PositionClosed"]


def check_ledger(rules: Rules, plan: list[Trip]) -> Run:
    sc, run = play(rules, plan)
    closed = closed_positions(sc)
    assert len(closed) == len(plan), "every planned round trip opens and closes one position"
    run.exits = [c["reason"] for c in closed]
    ledger = sc.ledger()
    for c, gross in zip(closed, run.expected_gross, strict=True):
        entry, *exits = [e for e in ledger if e.position_id == c["position_id"]]
        # every fill booked once: as many rows as the exchange reported new quantity, and the
        # exits add up to the entry (a repeated cumulative report books nothing)
        assert len(exits) == EXIT_FILLS.get(run.stop_fills.get(c["position_id"], "whole")), exits
        assert sum((e.amount for e in exits), D(0)) == entry.amount
        # P&L from the fills themselves, and from the prices this test sent (the hand model)
        sign = Side(c["side"]).sign
        realized = sum((e.realized_pnl for e in exits), D(0))
        assert realized == sum(((e.price - entry.price) * e.amount * sign for e in exits), D(0))
        assert realized == gross == D(c["realized_pnl"])
        fees = entry.fee + sum((e.fee for e in exits), D(0))
        assert D(c["fees"]) == fees
        assert D(c["net_pnl"]) == gross - fees
    booked = sum((e.realized_pnl - e.fee for e in ledger), D(0))
    assert booked == sum((D(c["net_pnl"]) for c in closed), D(0))
    return run


@settings(max_examples=80, deadline=None)
@given(example=examples())
def test_ledger_pnl_equals_fills_minus_fees_on_round_trips(example):
    rules, plan = example
    run = check_ledger(rules, plan)
    event("traded" if run.exits else "no trade")  # the share --hypothesis-show-statistics shows
    for reason in run.exits:
        event(f"closed by {reason}")
    for how in run.stop_fills.values():
        event(f"stop fill reported {how}")
    event(f"round trips: {len(run.exits)}")
    target(float(len(run.exits)), label="closed positions")


@settings(max_examples=60, deadline=None)
@given(example=examples(with_trailing_run=True))
def test_exchange_stop_only_moves_in_favour(example):
    """Every example has a trailing run, so the stop must have moved at least once."""
    rules, plan = example
    _, run = play(rules, plan)
    assert run.stop_moves >= 1, "a trailing run that never moved the exchange stop"
    event("stop moves: " + ("1" if run.stop_moves == 1 else "2-5" if run.stop_moves <= 5 else ">5"))
    target(float(run.stop_moves), label="stop moves")


def test_share_of_examples_that_trade():
    """The floor for the properties above: >= 90 % of generated examples close a position and
    >= 90 % of those with a trailing run move the exchange stop (today: 100 % by construction;
    this fails if a change to the generator or the core makes them quietly stop trading)."""
    seen: list[tuple[int, int, bool]] = []

    @settings(max_examples=60, deadline=None, database=None)
    @given(example=examples())
    def sample(example):
        rules, plan = example
        try:
            _, run = play(rules, plan)
        except AssertionError:
            run = Run()  # counted as not trading; the properties above report the failure
        seen.append((len(run.expected_gross), run.stop_moves,
                     any(t.exit == "trailing" for t in plan)))

    sample()
    traded = sum(1 for closes, _, _ in seen if closes > 0)
    trailing = [moves for _, moves, has_run in seen if has_run]
    assert traded / len(seen) >= MIN_SHARE, f"only {traded}/{len(seen)} examples traded"
    if len(trailing) >= 10:
        moved = sum(1 for m in trailing if m > 0)
        assert moved / len(trailing) >= MIN_SHARE, f"only {moved}/{len(trailing)} moved a stop"
    print(f"\nexamples that traded: {traded}/{len(seen)}; with a trailing run that moved the "
          f"stop: {sum(1 for m in trailing if m > 0)}/{len(trailing)}")
