"""The protections as pure objects over ledger totals: trip, refuse, reset by rule and by a
person, and the same state rebuilt after a restart."""

from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

from protections.checks import DailyLossLimit, MaxDrawdown, StopLossGuard
from protections.guard import build_checks
from protections.ledger_feed import LedgerTotals, day_start

DAY = 1_796_083_200.0  # 2026-12-01T00:00:00Z


def fill(i: int, pnl: str, fee: str = "0.1", at: float = DAY + 3600, pos: str = "p") -> dict:
    return {"id": i, "symbol": "BTC/USDT:USDT", "position_id": f"{pos}{i}", "realized_pnl": D(pnl),
            "fee": D(fee), "created_at": at}


def closed(i: int, net: str, reason: str = "stop_loss", at: float = DAY + 3600,
           symbol: str = "BTC/USDT:USDT") -> dict:
    return {"position_id": f"p{i}", "symbol": symbol, "status": "closed", "net_pnl": D(net),
            "close_reason": reason, "closed_at": at}


def test_totals_count_today_wins_losses_and_drawdown():
    t = LedgerTotals(base=D(1000))
    assert day_start(DAY + 5) == DAY
    t.apply([fill(1, "5", at=DAY - 10), fill(2, "-3"), fill(3, "-4")],
            [closed(1, "4.9", "take_profit"), closed(2, "-3.1"), closed(3, "-4.1")], DAY + 7200)
    assert t.net == D("-2.3") and t.fees == D("0.3")
    assert t.day_net == D("-7.2")  # the fill before midnight is yesterday's
    assert t.peak_net == D("4.9") and t.drawdown == D("7.2") and t.equity == D("997.7")
    assert (t.wins, t.losses) == (1, 2) and t.win_rate == 1 / 3
    assert t.stop_outs == [("BTC/USDT:USDT", DAY + 3600, 2), ("BTC/USDT:USDT", DAY + 3600, 3)]
    t.stop_outs_checked()
    t.apply([], [closed(2, "-3.1")], DAY + 7300)  # a position seen again is not counted twice
    assert (t.wins, t.losses) == (1, 2) and t.stop_outs == []


def test_daily_loss_limit_trips_once_and_resets_at_the_next_utc_day_or_by_a_person():
    t, check = LedgerTotals(), DailyLossLimit(limit=D(5))
    t.apply([fill(1, "-3")], [], DAY + 100)
    assert check.evaluate(t, DAY + 100) == [] and check.refuse("X", DAY + 100) is None
    t.apply([fill(2, "-2")], [], DAY + 200)
    trips = check.evaluate(t, DAY + 200)
    assert [x.name for x in trips] == ["daily_loss_limit"] and "-5.20" in trips[0].reason
    assert check.evaluate(t, DAY + 300) == []  # once
    assert check.refuse("ANY", DAY + 300) == trips[0].reason
    t.roll_day(DAY + 86_400 + 1)
    assert check.evaluate(t, DAY + 86_400 + 1) == [] and check.refuse("X", DAY + 86_401) is None
    # a person's reset: only later losses count
    t2, c2 = LedgerTotals(), DailyLossLimit(limit=D(5))
    t2.apply([fill(1, "-6")], [], DAY + 100)
    c2.evaluate(t2, DAY + 100)
    c2.reset(t2, DAY + 150)
    assert c2.refuse("X", DAY + 160) is None
    t2.apply([fill(2, "-1", at=DAY + 200)], [], DAY + 200)
    assert c2.evaluate(t2, DAY + 200) == [] and t2.day_net == D("-1.1")


def test_max_drawdown_holds_until_reset_and_the_reset_survives_a_replay():
    fills = [fill(1, "10"), fill(2, "-8"), fill(3, "-1")]
    t, check = LedgerTotals(), MaxDrawdown(limit=D(9))
    t.apply(fills, [], DAY + 100)
    assert [x.name for x in check.evaluate(t, DAY + 100)] == ["max_drawdown"]
    t.apply([fill(4, "5")], [], DAY + 200)
    check.evaluate(t, DAY + 200)
    assert check.refuse("X", DAY + 200) is not None  # only a person resets it
    check.reset(t, DAY + 300)
    assert check.refuse("X", DAY + 300) is None and t.peak_reset_fill_id == 4
    replay = LedgerTotals(peak_reset_fill_id=4)  # after a restart: the same peak
    replay.apply([*fills, fill(4, "5")], [], DAY + 400)
    assert replay.peak_net == t.peak_net and replay.drawdown == D(0)


def test_stoploss_guard_counts_per_symbol_in_the_window():
    g = StopLossGuard(count=2, window_s=100, pause_s=50)
    t = LedgerTotals()
    t.stop_outs = [("A", DAY), ("B", DAY + 10), ("A", DAY + 150)]  # A's two are too far apart
    assert g.evaluate(t, DAY + 151) == []
    t.stop_outs = [("A", DAY + 160)]
    trips = g.evaluate(t, DAY + 161)
    assert [(x.symbol, x.name) for x in trips] == [("A", "stoploss_guard")]
    assert g.refuse("A", DAY + 170) and g.refuse("B", DAY + 170) is None
    assert g.refuse("A", DAY + 211) is None  # until = last stop-out + pause
    g.reset("A", DAY + 212)
    t.stop_outs = [("A", DAY + 160)]  # replayed history before the reset does not count
    assert g.evaluate(t, DAY + 213) == []


def test_build_checks_takes_the_tighter_of_quote_and_percent():
    cfg = SimpleNamespace(daily_loss_limit_usdt=D(300), daily_loss_limit_pct=D(2),
                          max_drawdown_usdt=None, max_drawdown_pct=D(10), stoploss_guard_count=0,
                          stoploss_guard_window_s=1.0, stoploss_guard_pause_s=1.0)
    daily, drawdown = build_checks(cfg, D(10000))
    assert daily.limit == D(200) and drawdown.limit == D(1000)


def test_a_loss_of_exactly_the_daily_limit_trips_it():
    """"Realized net loss since 00:00 UTC at or past the limit stops entries": at it too.
    Found by a mutation audit: tripping only past it (`>`) passed every test."""
    t, check = LedgerTotals(), DailyLossLimit(limit=D(5))
    t.apply([fill(1, "-4.9")], [], DAY + 100)  # -4.9 less a fee of 0.1: -5.0 today
    assert t.day_net == D("-5.0")
    assert [x.name for x in check.evaluate(t, DAY + 100)] == ["daily_loss_limit"]
    assert check.refuse("X", DAY + 100) is not None


def test_a_drawdown_of_exactly_the_limit_trips_it():
    """Equity fallen `limit` below its peak stops entries: exactly that far too. Found by a
    mutation audit: tripping only past it (`>`) passed every test."""
    t, check = LedgerTotals(), MaxDrawdown(limit=D(9))
    t.apply([fill(1, "10", fee="0"), fill(2, "-9", fee="0")], [], DAY + 100)
    assert t.peak_net == D(10) and t.drawdown == D(9)
    assert [x.name for x in check.evaluate(t, DAY + 100)] == ["max_drawdown"]
    assert check.refuse("X", DAY + 100) is not None
