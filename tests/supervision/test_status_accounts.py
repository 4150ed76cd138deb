"""The status dump of several accounts: grouped under `accounts`, the top level adds up."""

from __future__ import annotations

from supervision.status import combine_status, render_table


def account(symbols: list[str], *, open_: int = 0, kill: bool = False, escalated: list[str] = ()) -> dict:
    actors = [{"symbol": s, "state": "running", "phase": "flat", "position": None, "restarts": 0,
               "close_failures": 0, "mailbox": 0, "last_tick_age_s": 0.1, "last_failure": None}
              for s in symbols]
    return {"bot": {}, "exchange": "paper", "actors": actors, "kill_switch": kill,
            "health": {"open_positions": open_, "protected_positions": open_, "ts_coverage": 1.0},
            "escalations": [{"symbol": s, "reason": "r", "attempts": 3, "last_error": "e", "time": 1.0}
                            for s in escalated]}


BOT = {"pid": 1, "running": True, "mode": "paper", "version": "v", "started_at": 1.0}


def test_single_account_keeps_the_classic_top_level_and_adds_accounts():
    one = account(["BTC/USDT:USDT"], open_=1)
    status = combine_status({**BOT, "account": "main"}, {"main": one}, 5.0, grouped=False)
    assert status["actors"] is one["actors"] and status["health"] == one["health"]
    assert status["kill_switch"] is False and status["bot"]["heartbeat_at"] == 5.0
    assert list(status["accounts"]) == ["main"] and status["accounts"]["main"]["exchange"] == "paper"
    assert "account" not in status["actors"][0]
    table = render_table(status)
    assert "== account" not in table and "BTC/USDT:USDT" in table


def test_several_accounts_are_grouped_and_the_top_level_covers_all():
    per = {"alpha": account(["BTC/USDT:USDT", "ETH/USDT:USDT"], open_=2, kill=True, escalated=["BTC/USDT:USDT"]),
           "beta": account(["ETH/USDT:USDT"], open_=1)}
    status = combine_status({**BOT, "accounts": ["alpha", "beta"]}, per, 5.0, grouped=True)
    assert [(a["account"], a["symbol"]) for a in status["actors"]] == [
        ("alpha", "BTC/USDT:USDT"), ("alpha", "ETH/USDT:USDT"), ("beta", "ETH/USDT:USDT")]
    assert status["health"]["open_positions"] == 3 and status["health"]["ts_coverage"] == 1.0
    assert status["kill_switch"] is True  # some account's is on ...
    assert status["accounts"]["alpha"]["kill_switch"] and not status["accounts"]["beta"]["kill_switch"]  # ... which
    assert [e["account"] for e in status["escalations"]] == ["alpha"]
    assert [a["symbol"] for a in status["accounts"]["beta"]["actors"]] == ["ETH/USDT:USDT"]
    table = render_table(status)
    alpha_at, beta_at = table.index("== account alpha"), table.index("== account beta")
    assert alpha_at < table.index("ESCALATION BTC/USDT:USDT") < beta_at
    assert "kill_switch ON" in table[alpha_at:beta_at] and "kill_switch off" in table[beta_at:]
    only_beta = render_table(status, "beta")
    assert "== account beta" in only_beta and "== account alpha" not in only_beta


def test_an_accounts_unreachable_database_reaches_the_dump():
    """runtime/account.py's status round marks an account whose database did not answer with
    `"database": "unreachable: ..."` (README, PostgreSQL: "status.json keeps being written with
    the last escalations read and "database": "unreachable: ..." for the account"); the dump
    kept only its listed fields and dropped it (found by review), so the status showed the
    last escalations read as if they were current."""
    down = {**account(["BTC/USDT:USDT"]), "database": "unreachable: database did not answer"}
    one = combine_status({**BOT, "account": "main"}, {"main": down}, 5.0, grouped=False)
    assert one["database"] == "unreachable: database did not answer"
    assert one["accounts"]["main"]["database"] == "unreachable: database did not answer"
    both = combine_status({**BOT, "accounts": ["alpha", "beta"]},
                          {"alpha": down, "beta": account(["ETH/USDT:USDT"])}, 5.0, grouped=True)
    assert both["accounts"]["alpha"]["database"] == "unreachable: database did not answer"
    assert "database" not in both["accounts"]["beta"]
    table = render_table(both)
    beta_at = table.index("== account beta")
    assert "DATABASE unreachable: database did not answer" in table[:beta_at]
    assert "DATABASE" not in table[beta_at:]
