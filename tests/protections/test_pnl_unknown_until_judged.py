"""P&L that the bot does not know yet is shown as unknown, never as zeros.

Found by review: when the protections' first pass failed at start (the database away for a
moment), the account's status carried the guard's empty totals: `realized_today 0`, `realized
total 0`, `equity 10000` (the capital), `drawdown 0`, in the status table, on the page, in
/metrics and in Telegram's /status, figures that read as real until a pass succeeded, while
the ledger held a -100.05 loss. The status now says the P&L is unknown, and why.

Real parts: a SQLite ledger, the guard and its first pass as the account's build runs them,
the status as the bot combines and writes it, /metrics read from it, and the /status reply of
a real TelegramBot against the local fake Bot API (HTTP on 127.0.0.1).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from loguru import logger

from dashboard.source import DashboardSource
from notifications.status_text import status_text
from notifications.telegram import TelegramApi
from notifications.telegram_bot import TelegramBot
from observability.metrics import BotMetrics
from protections.guard import AccountGuard
from runtime.first_pass import judge_stored_ledger
from supervision.status import combine_status, render_table, write_status
from tests.dashboard.test_metrics_without_status import samples
from tests.notifications.fake_telegram import FakeTelegram
from tests.protections.ledger_rig import BASE, BTC, T0, DownAtFirst, Ledger, daily_limit_guard
from tests.support.waiting import wait_until

TOKEN = "123456:pnl-unknown-token"
CHAT = 11
PNL_GAUGES = ("bot_realized_pnl_usdt", "bot_realized_pnl_today_usdt", "bot_fees_usdt",
              "bot_equity_usdt", "bot_drawdown_usdt")


def _status(guard: AccountGuard) -> dict[str, Any]:
    """The single-account status as the run loop builds and combines it."""
    account = {"exchange": "paper", "actors": [], "escalations": [], "kill_switch": False,
               "health": {"open_positions": 0, "protected_positions": 0, "ts_coverage": 1.0},
               **guard.status_fields(T0)}
    bot = {"pid": 7, "running": True, "mode": "paper", "version": "v", "started_at": T0}
    return combine_status({**bot, "account": "main"}, {"main": account}, T0, grouped=False)


def _telegram_reply(data: Path, status: dict[str, Any]) -> str:
    write_status(data, status)
    source = DashboardSource(data_dir=data, accounts=[], running=lambda: True, clock=lambda: T0)
    fake = FakeTelegram(TOKEN)
    bot = TelegramBot(api=TelegramApi(base_url=fake.url, token=TOKEN, timeout_s=5),
                      chat_ids=(CHAT,), logger=logger,
                      status_text=lambda: status_text(source.status()),
                      pause=lambda by: "pausing", poll_timeout_s=1, retry_initial_s=0.05)
    bot.start()
    try:
        fake.add_update(CHAT, "/status")
        return str(wait_until(lambda: fake.texts(CHAT) and fake.texts(CHAT)[0], timeout=10,
                              message="the /status reply"))
    finally:
        bot.stop()
        fake.stop()


def test_pnl_is_unknown_until_a_protections_pass_reads_the_ledger(tmp_path: Path):
    ledger = Ledger(tmp_path)
    try:
        ledger.closed("p1", BTC, "stop_loss", T0 - 60, pnl="-100")
        repo = DownAtFirst(ledger.repo)
        guard = daily_limit_guard(repo, logger)
        judge_stored_ledger(guard, logger, "main")  # fails: the database is away
        status = _status(guard)

        pnl = status["accounts"]["main"]["pnl"]
        figures = {k: pnl.get(k) for k in ("realized_today", "realized_total", "gross_realized",
                                           "fees", "equity", "drawdown", "wins", "losses")}
        # before the fix: realized_today '0', realized_total '0', equity '10000', drawdown '0'
        assert figures == dict.fromkeys(figures), figures
        assert pnl["unknown"] == ("the ledger is not read yet (the protections' first pass "
                                  "failed: see the log)")
        table = render_table(status)
        assert "P&L: UNKNOWN (the ledger is not read yet" in table, table
        assert "realized today" not in table and "equity" not in table, table
        got = samples(BotMetrics(snapshot=lambda: status).render().decode())
        assert all("main" not in got.get(name, {}) for name in PNL_GAUGES), got
        reply = _telegram_reply(tmp_path, status)
        assert "P&L UNKNOWN (the ledger is not read yet" in reply, reply
        assert "today" not in reply and "equity" not in reply, reply

        repo.up = True
        guard.tick()  # the run loop's next pass reads the ledger
        pnl = _status(guard)["pnl"]
        assert "unknown" not in pnl
        assert (pnl["realized_total"], pnl["equity"]) == ("-100.05", "9899.95")
    finally:
        ledger.close()


def test_pnl_a_pass_could_not_read_is_shown_as_of_the_last_read_not_as_current(tmp_path: Path):
    """A pass that fails after the replay (the ledger's read failing) left the last pass's
    figures in the status exactly as current ones: across midnight `realized_today` kept
    showing yesterday's net as today's. They now say since when they are not current, and
    /metrics leaves them out as it does unknown ones."""
    ledger = Ledger(tmp_path)
    try:
        ledger.closed("p1", BTC, "stop_loss", T0 - 60, pnl="-100")
        repo = DownAtFirst(ledger.repo)
        repo.up = True
        guard = AccountGuard(repo=repo, sup=SimpleNamespace(children={}, kill_switch=False),
                             checks=[], base=BASE, alert=lambda *a, **k: None, logger=logger,
                             clock=lambda: T0)
        guard.tick()
        assert "not_current" not in _status(guard)["pnl"]
        repo.up = False  # the ledger's read fails from here on
        try:
            guard.tick(T0 + 30)
        except OSError:
            pass
        status = _status(guard)
        pnl = status["pnl"]
        # before the fix: no word of it (the figures read as current)
        assert pnl.get("not_current") == ("as of 2026-12-01T01:00:00Z: the protections' "
                                          "passes fail since 2026-12-01T01:00:30Z (OSError: "
                                          "database unreachable)"), pnl
        assert pnl["realized_total"] == "-100.05"  # the last figures read, still shown
        table = render_table(status)
        assert "P&L NOT CURRENT (as of 2026-12-01T01:00:00Z" in table, table
        got = samples(BotMetrics(snapshot=lambda: status).render().decode())
        assert all("main" not in got.get(name, {}) for name in PNL_GAUGES), got
        assert "P&L NOT CURRENT (as of" in status_text(status)
        repo.up = True
        guard.tick(T0 + 60)
        assert "not_current" not in _status(guard)["pnl"]
    finally:
        ledger.close()
