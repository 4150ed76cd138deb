"""A day that ended while the bot was down still gets its daily summary, once.

Found by review: the daily summary (`telegram.notify_trades`) was sent only by a pass that saw
the UTC day change while the bot ran; a bot stopped before midnight and started after it
replayed the ledger and announced no summary, so a person relying on the summary silently
missed that day (its loss included). The last day summed up is stored now: the next start sends
the missed one, and a restart later that day does not send it again.

The real guard over a real SQLite ledger (tests/protections/ledger_rig.py); a restart is a new
guard over the same file, its first pass run before the notices are wired (as the account's
build runs it, runtime/first_pass.py)."""

from __future__ import annotations

from pathlib import Path

from protections.daily_summary import SUMMARY_KEY
from protections.guard import AccountGuard
from tests.protections.ledger_rig import BTC, T0, Ledger, protections

DAY = 86_400.0
NEXT_DAY = T0 + DAY  # 2026-12-02T01:00:00Z


def _start(led: Ledger, now: float, notices: list[str]) -> AccountGuard:
    """A start: the first pass (no notices wired yet), then the notices and a run-loop pass."""
    guard = led.guard(protections(), now)
    guard.tick(now)
    guard.on_trade = notices.append
    guard.tick(now + 1)
    return guard


def test_the_summary_of_a_day_that_ended_while_the_bot_was_down_is_sent_at_start(
        tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    try:
        notices: list[str] = []
        guard = _start(led, T0, notices)
        led.closed("p1", BTC, "stop_loss", T0 + 100, pnl="-5", fee="0.05")
        guard.tick(T0 + 200)
        assert notices == [f"closed {BTC} long: net -5.0500 USDT (stop_loss)"]
        # the bot stops at 02:00 and starts again the next day: no pass saw midnight
        notices.clear()
        restarted = _start(led, NEXT_DAY, notices)
        summaries = [n for n in notices if n.startswith("daily summary")]
        # before the fix: [] (no summary of 2026-12-01 was ever sent)
        assert summaries == ["daily summary 2026-12-01 (sent at start: the bot was down at "
                             "midnight): realized -5.05 USDT; total -5.05, equity (capital + "
                             "realized) 9994.95, 0W/0D/1L"], notices
        # its next passes that day send it no more (mutation audit: with the day sent kept
        # only in the database, not in memory, each pass sent it again and no test saw it)
        restarted.tick(NEXT_DAY + 60)
        restarted.tick(NEXT_DAY + 120)
        assert len([n for n in notices if n.startswith("daily summary")]) == 1, notices
        again = _start(led, NEXT_DAY + 600, notices)  # a restart later that day
        again.tick(NEXT_DAY + 700)
        assert len([n for n in notices if n.startswith("daily summary")]) == 1, notices
    finally:
        led.close()


def test_a_first_start_sends_no_summary_of_a_day_it_did_not_see(tmp_path: Path) -> None:
    """No summary stored yet (a new bot, or the first start of this version): whether the day
    before was summed up is not known, and none is sent for it."""
    led = Ledger(tmp_path)
    try:
        led.closed("p1", BTC, "stop_loss", T0 - 2 * 3600, pnl="-5", fee="0.05")  # yesterday
        notices: list[str] = []
        _start(led, T0, notices)
        assert notices == []
    finally:
        led.close()


def test_an_unreadable_stored_day_sends_no_summary_and_says_so(tmp_path: Path) -> None:
    """The stored last day summed up, hand-edited into no time: whether yesterday was summed up
    is not known, so none is sent (not one of a day already told), and one error names the row.
    Mutation audit: reading it as day 0 instead (yesterday's summary sent again) survived."""
    led = Ledger(tmp_path)
    try:
        led.closed("p1", BTC, "stop_loss", T0 - 2 * 3600, pnl="-5", fee="0.05")  # yesterday
        led.repo.set_meta(SUMMARY_KEY, "yesterday-ish")
        notices: list[str] = []
        _start(led, T0, notices)
        assert notices == []
        [error] = led.log.errors
        assert error.startswith("protections: stored meta row 'daily_summary_day' "
                                "'yesterday-ish' unreadable ("), error
        assert error.endswith("); no summary of a day missed is sent"), error
    finally:
        led.close()
