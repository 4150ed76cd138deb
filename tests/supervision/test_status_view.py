"""`bot.py status` as rich tables: the P&L summary above the actors table, protections and
pauses visible, strings printed as given."""

from __future__ import annotations

from supervision.status import combine_status, render_table

ACTOR = {"symbol": "BTC/USDT:USDT", "state": "running", "phase": "open", "restarts": 1,
         "close_failures": 0, "mailbox": 0, "last_tick_age_s": 0.2, "last_failure": None,
         "position": {"side": "long", "contracts": "0.001", "entry_price": "60000",
                      "mark_price": "60100", "unrealized_pnl": "0.1"},
         "stop_price": "59400", "trailing": {"state": "waiting", "activation_price": "60300",
                                             "trigger_price": None}}
ACCOUNT = {"bot": {}, "exchange": "paper", "actors": [ACTOR], "kill_switch": False,
           "health": {"open_positions": 1, "protected_positions": 1, "ts_coverage": 1.0},
           "escalations": [],
           "pnl": {"realized_today": "-3.20", "realized_total": "12.5", "fees": "1.1",
                   "equity": "10012.5", "drawdown": "3.2", "wins": 3, "losses": 1,
                   "win_rate": 0.75},
           "protections": [{"name": "daily_loss_limit", "symbol": None, "reason": "daily loss "
                            "limit: -3.20 USDT today (limit -3.00)", "tripped_since": 1.0,
                            "until": None}],
           "entries_paused": {"by": "telegram chat 7", "at": 1.0}}
BOT = {"pid": 1, "running": True, "mode": "paper", "version": "v", "started_at": 1.0}


def test_pnl_summary_sits_above_the_table_and_json_keeps_its_shape():
    status = combine_status({**BOT, "account": "main"}, {"main": dict(ACCOUNT)}, 5.0, grouped=False)
    for key in ("bot", "actors", "health", "escalations", "kill_switch", "accounts"):
        assert key in status  # the old shape; pnl and protections are added fields
    assert status["pnl"]["win_rate"] == 0.75 and status["accounts"]["main"]["pnl"] == status["pnl"]
    table = render_table(status)
    pnl_at, header_at = table.index("P&L: realized today -3.20"), table.index("SYMBOL")
    assert pnl_at < header_at
    assert "win rate 75% (3W/1L)" in table and "equity (capital + realized) 10012.5" in table
    assert "PROTECTION daily_loss_limit: daily loss limit: -3.20 USDT" in table
    assert "ENTRIES PAUSED by telegram chat 7" in table
    row = next(line for line in table.splitlines() if line.startswith("BTC/USDT:USDT"))
    assert "long 0.001" in row and "59400" in row and "waiting@60300" in row


def test_unknown_pnl_and_a_strategy_off_are_shown_in_order():
    """Pins the order of an account's lines (supervision/status_view.py `_section`): P&L
    UNKNOWN (no figures), health, the actors' table, then a strategy switched off."""
    actor = {**ACTOR, "strategy_off": "strategy raised ValueError at entry"}
    account = {**ACCOUNT, "actors": [actor], "pnl": {"unknown": "the database is down"},
               "protections": [], "entries_paused": None}
    status = combine_status({**BOT, "account": "main"}, {"main": account}, 5.0, grouped=False)
    table = render_table(status)
    at = [table.index(text) for text in (
        "P&L: UNKNOWN (the database is down)", "health: open 1", "SYMBOL",
        "STRATEGY OFF BTC/USDT:USDT: strategy raised ValueError at entry")]
    assert at == sorted(at), table
    assert "realized today" not in table, table


def test_a_paused_symbol_shows_when_its_pause_ends():
    """A stop-loss guard pause has an end (`until`); the table showed only its start (found by
    review: the status file had it, `bot.py status` did not say it)."""
    pause = {"name": "stoploss_guard", "symbol": "BTC/USDT:USDT", "tripped_since": 60.0,
             "until": 3660.0, "reason": "3 stop losses in 3600s"}
    account = {**ACCOUNT, "protections": [pause, *ACCOUNT["protections"]]}
    table = render_table(combine_status({**BOT, "account": "main"}, {"main": account}, 5.0,
                                        grouped=False))
    assert ("PROTECTION stoploss_guard BTC/USDT:USDT: 3 stop losses in 3600s (since "
            "1970-01-01T00:01:00Z, until 1970-01-01T01:01:00Z)") in table, table
    assert "(since 1970-01-01T00:00:01Z)" in table  # no end: a day's trip ends at midnight
