"""Supervision fault tests: each fault comes in through the same port a real one would."""

from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal

from actors.messages import Timer
from exchange import errors
from storage import queries
from supervision.restart_policy import RestartPolicy
from tests.support.crashing import ActorBug, HangOnce
from tests.support.faulty_exchange import FaultyExchange, is_close_order, params_of
from tests.support.harness import Harness, NoSignals
from tests.support.waiting import wait_until
from trading.model import Side

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def open_long(h: Harness, symbol: str) -> None:
    h.poll()
    assert h.signal(symbol, Side.LONG)
    h.idle(symbol)
    assert h.exchange_position(symbol) is not None


def timers(h: Harness, n: int, step_s: float = 5.0) -> None:
    """Time passes; each step the supervisor's Timer reaches BTC's actor and is handled."""
    for _ in range(n):
        h.clock.advance(step_s)
        h.sup.tell(BTC, Timer())
        h.idle(BTC)


def test_bug_in_close_path_makes_bounded_attempts_then_escalates(tmp_path):
    """Incident 2: a NameError in the close path looped 33 times, booking a loss each time."""
    box: dict = {}

    def wrap(paper):
        fx = FaultyExchange(paper)
        box["fx"] = fx
        return fx

    h = Harness(tmp_path, [BTC], wrap=wrap, risk={"max_close_attempts": 3, "close_backoff_initial_s": 1.0,
                                                   "close_backoff_max_s": 2.0}).start()
    fx = box["fx"]
    open_long(h, BTC)
    pnl_before = queries.ledger_net_pnl(BTC)
    close_calls = []

    def bug(name, args, kwargs):
        if is_close_order(args, kwargs):
            close_calls.append(params_of(args, kwargs)["clientOrderId"])
            raise NameError("name 'Decimal' is not defined")

    fx.before["create_order"] = bug
    h.signal(BTC, None)
    h.idle(BTC)
    timers(h, 10)  # time passes; the supervisor's timer drives the retries
    # the supervisor escalates and runs the emergency close on threads of its own: wait for them
    wait_until(lambda: any(c.endswith("x") for c in close_calls), message="emergency close sent")
    wait_until(lambda: [a["kind"] for a in h.alerts.sent] == ["escalation"], message="one alert")
    h.closer.wait()
    closes = [c for c in close_calls if c.endswith("c")]
    emergency = [c for c in close_calls if c.endswith("x")]
    assert len(closes) == 3, close_calls
    assert len(emergency) == 1  # the separate emergency path ran once
    assert queries.ledger_net_pnl(BTC) == pnl_before  # failed attempts booked nothing
    view = h.view(BTC)
    assert view.quarantined and view.position is not None  # still tracked
    assert h.exchange_stops(BTC)  # and still protected on the exchange
    esc = queries.open_escalations()
    assert len(esc) == 1 and esc[0]["symbol"] == BTC and esc[0]["attempts"] == 3
    assert "NameError" in esc[0]["last_error"]
    assert [a["kind"] for a in h.alerts.sent] == ["escalation"]
    h.stop()


def test_exchange_rejecting_every_close_escalates_and_emergency_close_runs_once(tmp_path):
    h = Harness(tmp_path, [BTC], risk={"max_close_attempts": 2, "close_backoff_initial_s": 1.0}).start()
    open_long(h, BTC)
    h.paper.faults.fail_next("create_order", 100, errors.InvalidOrder("reduce-only order rejected"),
                             match=lambda call: bool((call.get("params") or {}).get("reduceOnly"))
                             and "stopLossPrice" not in (call.get("params") or {}))
    h.signal(BTC, None)
    h.idle(BTC)
    timers(h, 6)
    wait_until(lambda: h.sup.escalations, message="the escalation reached the supervisor")
    h.closer.wait()
    subs = [s for s in h.paper.submissions() if s["symbol"] == BTC]
    closes = [s for s in subs if s["clientOrderId"].endswith("c")]
    emergencies = [s for s in subs if s["clientOrderId"].endswith("x")]
    assert len(closes) == 2 and len(emergencies) == 1
    assert h.view(BTC).quarantined and h.exchange_position(BTC) is not None
    assert len(queries.open_escalations()) == 1
    h.stop()


class CrashOn:
    """A strategy with a bug for one symbol: raises on every price."""

    name = "buggy"

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        raise ActorBug("bug in strategy")


def test_one_symbol_crash_loops_while_twenty_others_keep_trading(tmp_path):
    others = [f"SYM{i}/USDT:USDT" for i in range(20)]
    bad = "BAD/USDT:USDT"
    h = Harness(tmp_path, [bad, *others], strategy_for=lambda s: CrashOn() if s == bad else NoSignals(),
                policy=RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=0.01,
                                     backoff_max_s=0.05, stable_after_s=60)).start()
    ticks_before = {s: 0 for s in others}
    rounds = 0
    while h.child(bad).state.value != "quarantined" and rounds < 200:
        rounds += 1
        h.poll()  # every actor gets a tick; the bad one crashes on it
        for s in others[:5]:
            if rounds % 3 == 1:
                h.signal(s, Side.LONG)
            elif rounds % 3 == 2:
                h.signal(s, None)
        for s in others:
            h.idle(s)
            ticks_before[s] += 1
        # a restart is a backoff, then a new actor thread that restores from SQLite: 5 s was
        # short for that next to 20 busy actors on a loaded machine
        wait_until(lambda: h.child(bad).state.value in ("running", "quarantined"), timeout=30,
                   message="bad symbol restarted or quarantined")
    assert h.child(bad).state.value == "quarantined"
    assert h.child(bad).restarts == 3
    # the others processed every round of ticks while the bad one looped, and traded
    assert all(h.view(s).last_tick_at is not None for s in others)
    assert all(h.child(s).state.value == "running" and h.child(s).restarts == 0 for s in others)
    closed = [e for s in others[:5] for e in queries.events(s, "PositionClosed")]
    assert len(closed) >= 5
    # the supervisor flips the state first, then writes the escalation record
    wait_until(lambda: [e["symbol"] for e in queries.open_escalations()] == [bad], timeout=30,
               message="escalation record written")
    h.stop()


def test_hung_actor_is_detected_within_heartbeat_timeout_and_restarted(tmp_path):
    gate, hung = threading.Event(), []
    h = Harness(tmp_path, [BTC, ETH], heartbeat_timeout_s=0.3,
                strategy_for=lambda s: HangOnce(gate, hung) if s == BTC else NoSignals()).start()
    first = h.child(BTC).ref
    h.poll()
    wait_until(lambda: hung, message="actor hung")
    wait_until(lambda: h.child(BTC).restarts == 1 and h.child(BTC).state.value == "running",
               timeout=10, message="hung actor restarted")
    assert h.child(BTC).ref is not first
    assert "heartbeat" in h.child(BTC).last_failure["where"]
    gate.set()  # the old thread wakes up: it is fenced and can no longer write
    h.poll()
    h.idle(BTC)
    assert h.child(BTC).state.value == "running"
    h.stop()


def test_legacy_cased_state_restores_and_corrupt_row_quarantines_only_its_symbol(tmp_path):
    h = Harness(tmp_path, [BTC, ETH, "SOL/USDT:USDT"]).start()
    open_long(h, BTC)
    open_long(h, ETH)
    h.stop()
    con = sqlite3.connect(tmp_path / "bot.sqlite")
    con.execute("UPDATE trailing_stops SET state='WAITING' WHERE symbol=?", (BTC,))
    con.execute("UPDATE trailing_stops SET activation_price='garbage' WHERE symbol=?", (ETH,))
    con.commit()
    con.close()
    h2 = Harness(tmp_path, [BTC, ETH, "SOL/USDT:USDT"], clock=h.clock).start()
    assert h2.child(BTC).state.value == "running" and h2.view(BTC).position is not None
    assert h2.child(ETH).state.value == "quarantined"
    failure = h2.child(ETH).last_failure["error"]
    assert "trailing_stops" in failure and "activation_price" in failure
    assert h2.child(ETH).restarts == 0  # corrupt data is not retried in a loop
    h2.poll()
    assert h2.signal("SOL/USDT:USDT", Side.SHORT)  # other symbols trade
    h2.idle("SOL/USDT:USDT")
    assert h2.exchange_position("SOL/USDT:USDT") is not None
    assert h2.exchange_stops(ETH)  # the quarantined position stays protected on the exchange
    h2.stop()


def test_restart_while_entry_in_flight_sends_no_duplicate(tmp_path):
    gate = threading.Event()
    box: dict = {}

    def wrap(paper):
        fx = FaultyExchange(paper)
        box["fx"] = fx
        return fx

    h = Harness(tmp_path, [BTC], wrap=wrap, heartbeat_timeout_s=0.3).start()
    fx = box["fx"]
    blocked = []

    def stall_after_send(name, args, kwargs, result):
        if not params_of(args, kwargs).get("reduceOnly") and not blocked:
            blocked.append(result.client_order_id)
            gate.wait(30)  # the order reached the exchange; the reply is never processed

    fx.after["create_order"] = stall_after_send
    h.poll()
    h.signal(BTC, Side.LONG)
    wait_until(lambda: blocked, message="entry in flight")
    wait_until(lambda: h.child(BTC).restarts == 1 and h.child(BTC).state.value == "running",
               timeout=10, message="restart")
    wait_until(lambda: h.view(BTC).protected, message="adopted entry protected")
    cid = blocked[0]
    assert len(h.paper.submissions(cid)) == 1  # never sent twice
    assert h.view(BTC).position is not None and h.view(BTC).phase == "open"
    gate.set()  # the old thread resumes: its commit is fenced, so it acts on nothing
    wait_until(lambda: h.child(BTC).ref.is_alive(), message="new actor alive")
    h.idle(BTC)
    entries = [s for s in h.paper.submissions() if s["clientOrderId"].endswith("e")]
    assert len(entries) == 1
    assert h.child(BTC).restarts == 1  # the zombie's fenced crash was not counted as a failure
    h.stop()


def test_signal_lost_with_a_dead_mailbox_is_recorded_as_skipped(tmp_path):
    gate, entered = threading.Event(), []
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: HangOnce(gate, entered, crash=True)).start()
    h.tick(BTC, Decimal("60000"))
    wait_until(lambda: entered, message="actor busy in its handler")
    assert h.signal(BTC, Side.LONG)  # queued behind the tick that is about to crash
    gate.set()
    wait_until(lambda: h.child(BTC).restarts == 1 and h.child(BTC).state.value == "running",
               message="restart")
    h.idle(BTC)
    (received,) = queries.events(BTC, "SignalReceived")
    sid = received["data"]["signal_id"]
    outcome = [e for e in queries.events(BTC) if e["type"] in ("SignalSkipped", "SignalHandled")
               and e["data"].get("signal_id") == sid]
    assert [e["type"] for e in outcome] == ["SignalSkipped"]
    assert "down" in outcome[0]["data"]["reason"]
    assert h.exchange_position(BTC) is None  # not applied late either
    h.stop()


def test_escalation_runs_the_supervisors_emergency_close_and_books_its_fill_once(tmp_path):
    """One emergency path: closes fail past the bound, the core escalates, the supervisor's
    closer closes the position (journaled before it is sent), and the actor's reconciliation
    books the closing fill from the exchange, exactly once, before it lets go of the position."""
    box: dict = {}

    def wrap(paper):
        box["fx"] = FaultyExchange(paper)
        return box["fx"]

    risk = {"max_close_attempts": 2, "close_backoff_initial_s": 1.0}
    h = Harness(tmp_path, [BTC], wrap=wrap, risk=risk).start()
    open_long(h, BTC)

    def bug(name, args, kwargs):
        cid = params_of(args, kwargs).get("clientOrderId", "")
        if is_close_order(args, kwargs) and cid.endswith("c"):
            raise NameError("name 'Decimal' is not defined")

    box["fx"].before["create_order"] = bug
    h.signal(BTC, None)
    h.idle(BTC)
    timers(h, 4)
    wait_until(lambda: h.exchange_position(BTC) is None, message="the emergency close filled")
    wait_until(lambda: h.view(BTC).position is None, message="the actor reconciled the close")
    requested = queries.events(BTC, "EmergencyCloseRequested")
    assert len(requested) == 1 and requested[0]["data"]["order"].endswith("x")
    # booked once, from the exchange's fill
    assert queries.ledger_net_pnl(BTC) == h.paper.realized_pnl_total(BTC)
    assert h.view(BTC).quarantined and not h.exchange_stops(BTC)  # its stop went with the position
    # booked as the emergency close, not as found closed (a stop-out for the stop-loss guard)
    closed = queries.events(BTC, "PositionClosed")
    assert [e["data"]["reason"] for e in closed] == ["emergency_close"]
    h.stop()
