"""A closed position's count (win or loss, stop-out or not) follows ledger rows that arrive
after it was counted. Found by review:
- a fee told after the fill (trading/late_fees.py: a fee-only row of the same position) turned
  a +0.03 stop-loss close into a -0.03 loss, but the running guard kept it a win and ignored
  the stop-out, while /api/trades called it a loss and a restart flipped the counts and
  tripped the stop-loss guard as if the stop-out were news;
- a close committed between the guard's two reads (the new ledger rows, then their
  positions) showed its position closed without its closing fill: a +4.90 trailing-stop close
  counted as a -0.05 loss, a stop-out that tripped the guard.
The real guard over a real SQLite ledger (tests/protections/ledger_rig.py); the interleaved
commit comes from a repository handed to the guard's constructor."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from protections.guard import AccountGuard, build_checks
from storage import reports
from tests.protections.ledger_rig import BASE, BTC, T0, Ledger, protections


def pnl(guard: AccountGuard, now: float) -> dict[str, Any]:
    return guard.status_fields(now)["pnl"]


def test_a_late_fee_turns_a_counted_win_into_a_loss_and_a_stop_out(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    cfg = protections(stoploss_guard_count=1, stoploss_guard_window_s=3600.0,
                      stoploss_guard_pause_s=3600.0)
    led.fills([("p1", BTC, T0 - 10, "0", "0.05")])  # the entry's fee
    led.closed("p1", BTC, "stop_loss", T0, pnl="0.08", fee="0")  # its fee not told yet
    guard = led.guard(cfg, T0 + 1)
    assert guard.tick(T0 + 1) == []
    assert (pnl(guard, T0 + 1)["wins"], pnl(guard, T0 + 1)["losses"]) == (1, 0)
    led.fills([("p1", BTC, T0 + 6, "0", "0.06")])  # the fee told later: net -0.03
    trips = guard.tick(T0 + 7)
    assert (pnl(guard, T0 + 7)["wins"], pnl(guard, T0 + 7)["losses"]) == (0, 1)
    assert [t.reason for t in trips] and "stop-loss guard" in trips[0].reason
    [trade] = led.repo.read(reports.trades, 50, 0, None)
    assert trade["net_pnl"] < 0  # the trades report agrees
    restarted = led.guard(cfg, T0 + 8)  # the same ledger after a restart: the same counts
    restarted.tick(T0 + 8)
    assert (pnl(restarted, T0 + 8)["wins"], pnl(restarted, T0 + 8)["losses"]) == (0, 1)


class CloseBetweenReads:
    """The guard's repository: the position's close is committed by "the actor" right when the
    guard asks for the positions of the rows it just read (once)."""

    def __init__(self, led: Ledger, close: Any) -> None:
        self.led, self.close, self.done = led, close, False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.led.repo, name)

    def read(self, query: Any, *args: Any) -> Any:
        if query is reports.positions_by_id and not self.done:
            self.done = True
            self.close()
        return self.led.repo.read(query, *args)


def test_a_close_committed_between_the_two_reads_is_counted_with_its_fill(tmp_path: Path):
    led = Ledger(tmp_path)
    led._write([("INSERT INTO positions (position_id, symbol, side, contracts, entry_price, "
                 "opened_at, closed_at, status, realized_pnl, fees, close_reason) "
                 "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                 [("p1", BTC, "long", "1", "100", T0 - 1, None, "open", "0", "0", None)])])
    led.fills([("p1", BTC, T0 - 1, "0", "0.05")])  # the entry's fill

    def close() -> None:  # a trailing stop that locked in +5 (net +4.90)
        led._write([("UPDATE positions SET status='closed', closed_at=?, contracts='0', "
                     "realized_pnl='5', fees='0.1', close_reason='trailing_stop' "
                     "WHERE position_id='p1'", [(T0,)])])
        led.fills([("p1", BTC, T0, "5", "0.05")])

    cfg = protections(stoploss_guard_count=1)
    guard = AccountGuard(repo=CloseBetweenReads(led, close),
                         sup=SimpleNamespace(children={}, kill_switch=False),
                         checks=build_checks(cfg, BASE), base=BASE, alert=lambda *a, **k: None,
                         logger=led.log, clock=lambda: T0 + 0.5)
    notices: list[Any] = []
    guard.on_trade = notices.append
    trips = guard.tick(T0 + 0.5) + guard.tick(T0 + 1.5)
    assert trips == []  # no stop-out: it made money
    assert (pnl(guard, T0 + 1.5)["wins"], pnl(guard, T0 + 1.5)["losses"]) == (1, 0)
    assert pnl(guard, T0 + 1.5)["realized_total"] == "4.90"


def test_a_late_row_after_a_restart_does_not_announce_the_position_again(tmp_path: Path):
    # found by review: with notify_trades, the replay after a restart never noted the open
    # positions as announced, so a late fee of one said "opened ..." a second time
    led = Ledger(tmp_path)
    led._write([("INSERT INTO positions (position_id, symbol, side, contracts, entry_price, "
                 "opened_at, closed_at, status, realized_pnl, fees, close_reason) "
                 "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                 [("p1", BTC, "long", "0.01", "100000", T0 - 60, None, "open", "0", "0",
                   None)])])
    led.fills([("p1", BTC, T0 - 60, "0", "0")])  # the entry fill, its fee not told yet
    guard = led.guard(protections(), T0)  # the bot restarts: the replay announces nothing
    notices: list[str] = []
    guard.on_trade = notices.append
    guard.tick(T0)
    led.fills([("p1", BTC, T0 + 5, "0", "0.4")])  # the entry's fee, told late
    guard.tick(T0 + 6)
    assert notices == []
