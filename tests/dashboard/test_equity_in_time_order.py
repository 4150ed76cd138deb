"""The equity curve (`GET /api/equity`, `storage.reports.equity_points`) runs in the order of
the fills' times, not of their ids. Found by review: since fills are dated by the venue's fill
time, a stop that filled while the bot was down is booked later than rows dated after it; the
curve, summed in id order, stepped back in time at that row and showed an equity the account
never had (the loss after the later gains). The kept curve (dashboard/equity.py) reads such a
row again from the start, so it answers the whole ledger's points.

Real SQLite ledger (the protections' rig writes rows as the commit path does), a real aiohttp
server on 127.0.0.1."""

from __future__ import annotations

from tests.dashboard.test_equity_curve import curve, serve, whole
from tests.protections.ledger_rig import BTC, ETH, T0, Ledger


def test_a_fill_booked_after_later_ones_takes_its_place_in_time(tmp_path):
    ledger = Ledger(tmp_path)
    server = serve(tmp_path, ledger)
    try:
        ledger.fills([("p1", BTC, T0 + 10, "5", "0"), ("p2", BTC, T0 + 20, "-1", "0")])
        assert [p["equity"] for p in curve(server, 500)] == ["10005", "10004"]
        ledger.fills([("p3", ETH, T0 + 5, "-10", "0")])  # filled at +5, booked now
        got = curve(server, 500)
        assert [p["time"] for p in got] == [T0 + 5, T0 + 10, T0 + 20]
        assert [p["equity"] for p in got] == ["9990", "9995", "9994"]
        assert got == whole(ledger, 500)
        ledger.fills([("p4", ETH, T0 + 30, "2", "0"), ("p5", BTC, T0 + 1, "1", "0")])
        assert [p["time"] for p in whole(ledger, 2)] == [T0 + 10, T0 + 30]  # thinned in time
        for points in (500, 2):
            assert curve(server, points) == whole(ledger, points), points
    finally:
        server.stop()
        ledger.close()
