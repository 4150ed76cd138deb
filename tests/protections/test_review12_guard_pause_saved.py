"""A stop-loss guard pause is saved when it trips, and a restart restores it from storage
(review 12, defect 2: `StopLossGuard.state()` handed out its live dicts, which `evaluate`
changes in place, so the guard's "changed since before the tick?" never saw a change and the
pause was never saved; after a restart it was re-derived from the ledger on the first tick,
alerted and journaled a second time with a new `tripped_since`, and until that tick the paused
symbol's entries were allowed).

Real SQLite, the guard built as protections.wiring builds it, and the account's real entry gate;
the restart is a new repository and a new guard over the same database file."""

from __future__ import annotations

import json
from pathlib import Path

from actors.entry_gate import AccountGate
from protections.checks import DailyLossLimit, MaxDrawdown, StopLossGuard
from protections.guard import STATE_KEY
from protections.ledger_feed import LedgerTotals
from storage import queries
from tests.protections.ledger_rig import BTC, ETH, T0, Ledger, protections

GUARD = protections(stoploss_guard_count=1, stoploss_guard_window_s=600.0,
                    stoploss_guard_pause_s=600.0)


def _trips(ledger: Ledger) -> list[dict]:
    return ledger.repo.read(queries.events, None, "ProtectionTripped")


def test_a_stop_loss_pause_is_saved_and_restored_after_a_restart(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard = ledger.guard(GUARD, T0 + 10)
    ledger.closed("btc1", BTC, "stop_loss", T0)
    tripped = guard.tick(T0 + 10)
    assert [(t.name, t.symbol) for t in tripped] == [("stoploss_guard", BTC)]
    saved = json.loads(ledger.repo.get_meta(STATE_KEY) or "{}")
    paused = saved["checks"]["stoploss_guard"]["paused"]
    assert list(paused) == [BTC] and paused[BTC]["since"] == T0 + 10, saved
    assert len(_trips(ledger)) == 1
    ledger.close()

    # the restart: a new repository and a new guard over the same file, before any tick
    again = Ledger(tmp_path)
    guard2 = again.guard(GUARD, T0 + 20)
    gate = AccountGate(max_open_positions=None, checks=[guard2], clock=lambda: T0 + 20)
    refused = gate.admit(BTC, "signal", reconciled=True)
    assert refused is not None and "stop-loss guard" in refused
    assert gate.admit(ETH, "signal", reconciled=True) is None
    # the first tick replays the ledger: the pause is the saved one, not a new trip
    assert guard2.tick(T0 + 20) == []
    assert len(_trips(again)) == 1
    rows = guard2.status_fields(T0 + 20)["protections"]
    assert [(r["symbol"], r["tripped_since"]) for r in rows] == [(BTC, T0 + 10)]
    again.close()


def test_no_check_hands_out_its_live_state():
    """Changing a check after taking its state leaves the state taken unchanged (the guard
    compares the two to decide whether to save)."""
    ledger_totals = LedgerTotals()
    checks = [DailyLossLimit(limit=1), MaxDrawdown(limit=1),
              StopLossGuard(count=1, window_s=600, pause_s=600)]
    for check in checks:
        before = check.state()
        snapshot = json.dumps(before, sort_keys=True, default=str)
        if isinstance(check, StopLossGuard):
            ledger_totals.stop_outs = [(BTC, T0)]
            check.evaluate(ledger_totals, T0 + 1)
            check.reset(ETH, T0 + 2)
            assert check.state() != before
        else:
            check._trip(T0, "tripped")  # noqa: SLF001 - what evaluate does on a trip
        assert json.dumps(before, sort_keys=True, default=str) == snapshot, check.name
