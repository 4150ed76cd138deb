"""LedgerTotals counts each closed position once, even when a late fill touches it again, and
its memory of counted positions stays bounded over a long run."""

from decimal import Decimal as D

from protections.ledger_feed import COUNTED_KEPT, LedgerTotals


def _fill(i: int, pid: str, pnl: str, fee: str = "0.1") -> dict:
    return {"id": i, "position_id": pid, "realized_pnl": D(pnl), "fee": D(fee),
            "created_at": 1_000.0 + i}


def _closed(pid: str) -> dict:
    return {"position_id": pid, "status": "closed", "close_reason": "strategy_exit",
            "symbol": "BTC/USDT:USDT", "closed_at": 2_000.0}


def test_a_late_fill_on_a_closed_position_counts_money_not_a_second_win():
    t = LedgerTotals(base=D("1000"))
    t.apply([_fill(1, "p1", "0"), _fill(2, "p1", "5")], [_closed("p1")], now=3_000.0)
    assert (t.wins, t.losses) == (1, 0)
    t.apply([_fill(3, "p1", "0", fee="0.05")], [_closed("p1")], now=3_001.0)  # a late fee
    assert (t.wins, t.losses) == (1, 0)
    assert t.fees == D("0.25") and t.realized == D("5") and t.net == D("4.75")


def test_counted_positions_are_bounded():
    t = LedgerTotals(base=D("1000"))
    n = COUNTED_KEPT + 500
    for i in range(n):
        t.apply([_fill(i + 1, f"p{i}", "1")], [_closed(f"p{i}")], now=3_000.0)
    assert t.wins == n and len(t._counted) == COUNTED_KEPT
    assert "p0" not in t._counted and f"p{n - 1}" in t._counted


def test_the_status_shows_money_to_eight_places_at_most():
    """Found by a live soak: a grid's P&L line printed 28-digit decimals (a fee split over part
    fills), and "today" and "total" differed in the last digit."""
    t = LedgerTotals(base=D("1000"))
    split_fee = D("0.0327") * D("0.3") / D("0.7")  # 0.01401428571428571428571428571
    t.apply([_fill(1, "p1", "-1.5", fee=str(split_fee)), _fill(2, "p1", "0.25", fee="0.10")],
            [_closed("p1")], now=3_000.0)
    s = t.summary()
    assert s["fees"] == "0.11401429" and s["realized_total"] == "-1.36401429"
    assert s["realized_today"] == s["realized_total"] and s["gross_realized"] == "-1.25"
    assert t.fees == D("0.10") + split_fee  # the totals themselves stay exact


def test_the_status_never_shows_money_in_exponent_notation():
    """Found by review: a fee that rounds to zero at eight places printed as '0E-8' (and a
    tiny rebate as '-0E-8') in the status, the dashboard and Telegram's /status, and a sum of
    round figures could read '1E+1'."""
    t = LedgerTotals(base=D("1000"))
    t.apply([_fill(1, "p1", "0", fee="0.000000001"), _fill(2, "p1", "0", fee="-0.000000004")],
            [_closed("p1")], now=3_000.0)
    s = t.summary()
    assert s["fees"] == "0.00000000" and s["realized_total"] == "0.00000000", s
    t = LedgerTotals(base=D("1E+1"))
    assert t.summary()["equity"] == "10"
