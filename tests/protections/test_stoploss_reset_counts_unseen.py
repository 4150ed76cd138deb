"""A person's reset of the stop-loss guard forgets the stop-outs booked before it, not one
booked after it that the venue dated earlier. Found by review: since fills are dated by the
venue's fill time, a stop that filled at 14:04 but was booked after a reset at 14:05 carried a
time before the reset, and the guard (forgetting by time) never counted it.

The real guard over a real SQLite ledger (tests/protections/ledger_rig.py)."""

from __future__ import annotations

from pathlib import Path

from tests.protections.ledger_rig import BTC, T0, Ledger, protections

CFG = protections(stoploss_guard_count=1, stoploss_guard_window_s=3600.0,
                  stoploss_guard_pause_s=3600.0)
RESET = T0 + 300


def test_a_stop_out_booked_after_a_reset_counts_though_dated_before_it(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    try:
        led.closed("p1", BTC, "stop_loss", T0 + 100)
        guard = led.guard(CFG, RESET)  # its clock: the person's reset happens at RESET
        guard.tick(T0 + 200)
        assert guard.refuse(BTC, T0 + 200) is not None
        assert guard.apply("reset_protection", BTC, {"name": "stoploss_guard"}) \
            == "stoploss_guard reset"
        assert guard.refuse(BTC, RESET) is None  # the stop-out the person saw is forgotten
        led.closed("p2", BTC, "stop_loss", RESET - 60)  # filled before the reset, booked after
        guard.tick(RESET + 100)
        assert guard.refuse(BTC, RESET + 100) is not None
        restarted = led.guard(CFG, RESET + 200)  # a restart's replay agrees
        restarted.tick(RESET + 200)
        assert restarted.refuse(BTC, RESET + 200) is not None
    finally:
        led.close()


def test_the_stop_out_a_person_reset_stays_forgotten_after_a_restart(tmp_path: Path) -> None:
    """The reset forgets the stop-outs booked up to the ledger's last row read at it, that row
    included: it is the stop-out the person saw. Found by a mutation audit: forgetting only the
    rows before it (`<`) passed every test; a restart's replay then counted that stop-out again
    and paused the symbol the person had just resumed (and alerted it anew)."""
    led = Ledger(tmp_path)
    try:
        led.closed("p1", BTC, "stop_loss", T0 + 100)
        guard = led.guard(CFG, RESET)
        guard.tick(T0 + 200)
        assert guard.refuse(BTC, T0 + 200) is not None
        assert guard.apply("reset_protection", BTC, {"name": "stoploss_guard"}) \
            == "stoploss_guard reset"
        restarted = led.guard(CFG, RESET + 200)
        assert restarted.tick(RESET + 200) == []
        assert restarted.refuse(BTC, RESET + 200) is None
    finally:
        led.close()
