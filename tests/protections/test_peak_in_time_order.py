"""The drawdown's peak is taken over the ledger in the order of the rows' times (ties: booking
order), the order of the equity curve (`storage.reports.equity_points`). Found by review: it was
taken in booking (id) order, while a fill is dated by the venue's fill time, so a row booked
late (a stop that filled while the bot was down, booked by the restart's reconciliation; two
symbols' fills booked a moment apart) carries an earlier time than rows booked before it. The
status's drawdown and the max-drawdown protection then saw another peak than the curve the
dashboard draws: here 10 below a peak of +20 on the curve, 0 in the status, and no trip.
The real guard over a real SQLite ledger (tests/protections/ledger_rig.py)."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from protections.checks import MaxDrawdown
from protections.ledger_feed import LedgerTotals
from protections.peak import TIME_KEPT
from storage import reports
from tests.protections.ledger_rig import BASE, BTC, ETH, T0, Ledger, protections


@pytest.fixture
def led(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(tmp_path)
    yield ledger
    ledger.close()


def curve_drawdown(led: Ledger) -> D:
    """The equity curve's peak less its end (every point: one per row)."""
    points = led.repo.read(reports.equity_points, BASE, 10_000)
    equities = [D(p["equity"]) for p in points]
    return max([BASE, *equities]) - equities[-1]


def test_a_row_booked_late_counts_at_its_time_in_the_peak(led: Ledger) -> None:
    cfg = protections(max_drawdown_usdt=D(8))
    led.fills([("p1", BTC, T0 + 10, "10", "0")])  # +10 at T0+10
    led.fills([("p2", ETH, T0 + 30, "-10", "0")])  # -10 at T0+30
    led.fills([("p3", BTC, T0 + 20, "10", "0")])  # booked last, filled at T0+20: +10
    assert curve_drawdown(led) == D(10)  # the curve: 10, 20, 10
    guard = led.guard(cfg, T0 + 40)
    trips = guard.tick(T0 + 40)
    assert guard.status_fields(T0 + 40)["pnl"]["drawdown"] == "10"
    assert [t.name for t in trips] == ["max_drawdown"]


def test_a_running_guard_and_a_restarted_one_agree_with_the_curve(tmp_path: Path) -> None:
    """Row by row (a running bot's passes) or all at once (a restart's replay): one peak."""
    led = Ledger(tmp_path)
    cfg = protections()
    running = led.guard(cfg, T0)
    rows = [("p1", BTC, T0 + 10, "4", "0.5"), ("p2", ETH, T0 + 40, "-6", "0.5"),
            ("p3", BTC, T0 + 20, "3", "0"), ("p4", ETH, T0 + 5, "2", "0.25"),
            ("p5", BTC, T0 + 50, "-1", "0"), ("p6", ETH, T0 + 45, "5", "0")]
    for i, row in enumerate(rows):
        led.fills([row])
        running.tick(T0 + 60 + i)
    restarted = led.guard(cfg, T0 + 70)
    restarted.tick(T0 + 70)
    expected = curve_drawdown(led)
    assert running.totals.drawdown == restarted.totals.drawdown == expected


def test_a_reset_restarts_the_peak_and_a_later_row_dated_before_it_counts_after_it() -> None:
    """A person's reset restarts the peak at the equity then; a row booked after it counts
    after it (as the daily loss limit's reset counts it), whatever its time."""
    t = LedgerTotals(base=BASE)
    t.apply([_row(1, 100.0, "10"), _row(2, 200.0, "-4")], [], now=1_000.0)
    assert t.drawdown == D(4)
    t.reset_peak()
    assert t.drawdown == 0
    t.apply([_row(3, 150.0, "-3")], [], now=1_001.0)  # booked after the reset
    assert t.drawdown == D(3)
    replayed = LedgerTotals(base=BASE, peak_reset_fill_id=2)  # the restart's replay
    replayed.apply([_row(1, 100.0, "10"), _row(2, 200.0, "-4"), _row(3, 150.0, "-3")], [],
                   now=1_001.0)
    assert replayed.drawdown == D(3)


def test_a_row_dated_before_every_row_kept_counts_after_the_folded_ones() -> None:
    """The rows kept for the order are bounded (a months-long run); one booked later than
    TIME_KEPT rows and dated before them all counts after the rows folded, the same in a
    running bot and in a restart's replay (both read the rows in booking order)."""
    n = 2 * TIME_KEPT + 1  # the oldest TIME_KEPT + 1 are folded
    rows = [_row(i + 1, 1_000.0 + i, "1" if i < 10 else "0") for i in range(n)]
    rows.append(_row(n + 1, 5.0, "-7"))  # dated before every row
    t = LedgerTotals(base=BASE)
    for row in rows:
        t.apply([row], [], now=9e5)
    assert len(t._peak.rows) == TIME_KEPT + 1
    whole = LedgerTotals(base=BASE)
    whole.apply(rows, [], now=9e5)
    assert t.drawdown == whole.drawdown == D(7)  # counted after the folded rows (+10)
    assert t.net == whole.net == D(3)


def _row(i: int, at: float, pnl: str) -> dict:
    return {"id": i, "position_id": f"p{i}", "realized_pnl": D(pnl), "fee": D(0),
            "created_at": at}


def test_a_peak_folded_away_still_counts_when_a_late_row_reorders_the_kept_ones() -> None:
    """The folded rows' highest point stays the peak's floor when a row booked late takes its
    place among the kept ones and the peak is taken again. Found by a mutation audit: taking
    it again from the folded rows' end (their net) instead of their peak passed every test
    (the one test that folds rows rises to its end); after TIME_KEPT rows the drawdown then
    forgot an older peak and the max-drawdown protection did not trip."""
    n = 2 * TIME_KEPT + 1  # the oldest TIME_KEPT + 1 are folded: +10, then -6
    pnl = ["1"] * 10 + ["-6"] + ["0"] * (n - 11)
    rows = [_row(i + 1, 1_000.0 + i, pnl[i]) for i in range(n)]
    rows.append(_row(n + 1, 1_000.0 + n - 5.5, "0"))  # booked late, dated among the kept rows
    t = LedgerTotals(base=BASE)
    for row in rows:
        t.apply([row], [], now=9e5)
    assert t._peak.horizon < rows[-1]["created_at"] < rows[-2]["created_at"]
    check = MaxDrawdown(limit=D(5))
    assert t.net == D(4) and t.peak_net == D(10) and t.drawdown == D(6)
    assert [x.name for x in check.evaluate(t, 9e5)] == ["max_drawdown"]
