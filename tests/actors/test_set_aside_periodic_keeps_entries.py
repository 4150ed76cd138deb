"""A periodic reconciliation set aside for an order report (it waited for rate budget and yielded:
actors/reconcile_retry.py `set_aside`) is owed, not failed: entries go on the facts of the last
verified reconciliation and the reports since (trading/gate.py ASIDE_GRACE_S), and the next
`Timer` runs it. The first reconciliation of an incarnation and a failed one still block them.

Found by a live chaos run: a set-aside periodic reconciliation marked the symbol unreconciled,
and every entry signal was skipped ("not reconciled with the exchange yet", 14 in one run) until
the next one succeeded. A real SymbolActor (pykka thread, SQLite), the real ccxt gateway with
its real rate budget in wall time, the Bybit emulator on 127.0.0.1; the venue says no weight is
left (`no_weight_left`) so the reconciliation waits, and an order report sets it aside."""

from __future__ import annotations

import dataclasses
import time

from loguru import logger

from actors.messages import ExternalSignal, OrderActivity, Reconcile, Timer
from actors.reconcile_retry import ReconcileRetry
from actors.symbol_actor import SymbolActor
from tests.actors.test_leverage_before_entry import BTC, CREATE, Rig, rig
from tests.actors.test_reconcile_set_aside import no_weight_left
from tests.support.waiting import wait_until
from trading.gate import NOT_RECONCILED
from trading.model import Side

POSITIONS = "/v5/position/list"


def _periodic_set_aside(r: Rig) -> None:
    """The supervisor's periodic reconciliation waits for budget; an order report (someone
    else's order: it changes nothing) arrives and sets it aside."""
    r.sync()  # the start's reconciliation is done
    assert r.view().reconciled
    with no_weight_left(r) as ip:
        waited = ip.waited_s
        r.ref.tell(Reconcile(reason="periodic"))
        wait_until(lambda: ip.waited_s > waited, message="the reconciliation waits for budget")
        r.ref.tell(OrderActivity(client_order_ids=("someone-elses",)))
        r.sync()  # behind the set-aside reconciliation and the report
    r.emu.clear()


def _outcome(r: Rig, sid: str) -> str:
    def decided() -> bool:
        return r.view().protected or any(
            e["data"].get("signal_id") == sid for e in r.journal("SignalSkipped"))
    wait_until(decided, timeout=20, message="the signal entered or was skipped")
    skipped = [e["data"]["reason"] for e in r.journal("SignalSkipped")
               if e["data"].get("signal_id") == sid]
    return skipped[0] if skipped else "entered"


def test_an_entry_after_a_periodic_reconciliation_set_aside_is_sent(tmp_path):
    with rig(tmp_path, "bybit", 5, wall_time=True) as r:
        _periodic_set_aside(r)
        r.ref.tell(ExternalSignal(side=Side.LONG, signal_id="sig-aside", reason="external"))
        assert _outcome(r, "sig-aside") == "entered"
        assert r.view().reconciled  # owed, not failed: the status names no NOT RECONCILED
        assert r.book.position("BTCUSDT")[0] > 0
        r.emu.clear()
        r.ref.tell(Timer())  # the heartbeat runs the owed reconciliation by itself
        r.sync()
        assert ("GET", POSITIONS) in {(x.method, x.path) for x in r.emu.requests}


def test_a_failed_periodic_reconciliation_still_blocks_entries(tmp_path):
    """An exchange error is no set-aside: entries wait until a reconciliation succeeds."""
    with rig(tmp_path, "bybit", 5, wall_time=True) as r:
        r.sync()
        r.emu.fail_next(POSITIONS, 50, status=503)
        r.ref.tell(Reconcile(reason="periodic"))
        r.sync()
        r.emu.clear_faults(POSITIONS)
        assert not r.view().reconciled
        r.ref.tell(ExternalSignal(side=Side.LONG, signal_id="sig-failed", reason="external"))
        assert _outcome(r, "sig-failed") == NOT_RECONCILED
        assert CREATE["bybit"] not in r.paths()


def test_entries_wait_once_the_owed_reconciliation_was_set_aside_too_long(tmp_path):
    """Past ASIDE_GRACE_S from the first set-aside of the row (the actor's clock moved on), an
    entry is skipped, journaled and logged in one line naming the symbol and why."""
    from trading.gate import ASIDE_GRACE_S, FACTS_STALE

    later = [0.0]
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(f"{m.record['extra'].get('symbol')} | "
                                             f"{m.record['message']}"), level="INFO")
    try:
        with rig(tmp_path, "bybit", 5, wall_time=True) as r:
            r.ref.stop()  # the same actor, on a clock the test moves on
            r.ref = SymbolActor.start(BTC, dataclasses.replace(
                r.deps, clock=lambda: time.time() + later[0]))
            _periodic_set_aside(r)
            later[0] = ASIDE_GRACE_S + 1
            r.ref.tell(ExternalSignal(side=Side.LONG, signal_id="sig-stale", reason="external"))
            assert _outcome(r, "sig-stale") == FACTS_STALE
            assert not r.view().reconciled  # the status says it (and alerts: reconcile_watch)
            assert CREATE["bybit"] not in r.paths()
            r.ref.tell(Timer())  # the owed reconciliation succeeds: entries go on
            r.ref.tell(ExternalSignal(side=Side.LONG, signal_id="sig-after", reason="external"))
            assert _outcome(r, "sig-after") == "entered"
            assert r.view().reconciled
    finally:
        logger.remove(sink)
    (line,) = [x for x in lines if "SignalSkipped" in x and "sig-stale" in x]
    assert line.startswith(f"{BTC} | ") and "facts stale" in line and "\n" not in line, line


def test_set_asides_in_a_row_keep_entries_for_a_bounded_time_only():
    """The rule (`ReconcileRetry.current`, which the gate and the grid's levels follow): the
    first reconciliation of an incarnation blocks; after a verified one, a row of set-asides
    keeps entries for ASIDE_GRACE_S from the first of the row; a success ends the row."""
    from loguru import logger

    from exchange.fence import Preempted
    from trading.gate import ASIDE_GRACE_S, FACTS_STALE

    retry = ReconcileRetry(lambda n: 1.0)
    aside = Preempted("an order report is waiting")
    assert retry.set_aside(aside, "start", logger, 0.0)
    assert not retry.current(False, 0.0)  # nothing verified yet: entries wait
    retry.succeeded()
    assert retry.current(True, 1.0) and retry.why(1.0, True, None) is None
    assert retry.set_aside(aside, "periodic", logger, 100.0)
    assert retry.set_aside(aside, "retry", logger, 130.0)  # the row began at 100
    assert retry.current(True, 100.0 + ASIDE_GRACE_S - 1)
    assert retry.why(131.0, True, None) == "retry"  # owed: the Timer runs it
    assert not retry.current(True, 100.0 + ASIDE_GRACE_S)  # stale: entries wait
    assert retry.stale(100.0 + ASIDE_GRACE_S) and "set aside" in FACTS_STALE
    assert not retry.current(True, 50.0)  # a start far ahead: the clock stepped back
    retry.succeeded()
    assert retry.current(True, 500.0) and not retry.stale(500.0)
    assert retry.set_aside(aside, "fee unknown", logger, 600.0)  # a fee look: nothing owed
    assert retry.owed_since is None
