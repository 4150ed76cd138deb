"""examples/multi_account.toml as users run it: four paper accounts (one a hedge grid) in one `python bot.py`,
status grouped by account, logs/<account>/<symbol>.log, one database per account, --account."""

from __future__ import annotations

import signal
import sqlite3

import pytest

from observability.log_streams import safe_name
from tests.e2e.bot_process import ROOT, cli, start_bot, status, wait_status
from tests.supervision.test_instance_lock import start_holder, stop
from tests.support.waiting import wait_until

EXAMPLE = ROOT / "examples" / "multi_account.toml"
ETH = "ETH/USDT:USDT"
ACCOUNTS = {
    "alpha": ["BTC/USDT:USDT", ETH, "SOL/USDT:USDT"],
    "beta": [ETH, "XRP/USDT:USDT", "DOGE/USDT:USDT"],
    "gamma": ["BNB/USDT:USDT", "ADA/USDT:USDT", "LINK/USDT:USDT"],
    "delta": ["BTC/USDT:USDT", "XRP/USDT:USDT"],
}
pytestmark = pytest.mark.slow


def rows(data, account: str, sql: str) -> list[tuple]:
    con = sqlite3.connect(data / "accounts" / account / "bot.sqlite")
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def beta_eth_protected(data) -> list[tuple]:
    """beta's journal shows its ETH position opened and its stop placed. Read from the journal,
    not the status: the example's strategy may close the manual position (mean_reverted) once
    its 40-sample window is full, and a status poll can miss a position open for a moment
    (as tests/e2e/test_live_emulator.py's dry-run test did under load)."""
    return rows(data, "beta", f"SELECT type FROM events WHERE symbol = '{ETH}' AND type IN "
                "('PositionOpened', 'StopPlaced') GROUP BY type HAVING count(*) > 0")


def test_the_example_runs_three_accounts_grouped_in_status_logs_and_databases(tmp_path):
    data = tmp_path / "data"
    proc = start_bot(EXAMPLE, data, "--duration", "180")  # stopped by SIGTERM below
    try:
        s = wait_status(EXAMPLE, data, lambda s: s["bot"]["running"] and all(
            a["state"] == "running" and a["reconciled"] and a["last_tick_age_s"] is not None
            for a in s["actors"]), message="every account's actors running with prices")
        assert s["bot"]["accounts"] == list(ACCOUNTS) and s["bot"]["pid"] == proc.pid
        for name, symbols in ACCOUNTS.items():
            entry = s["accounts"][name]
            assert [a["symbol"] for a in entry["actors"]] == symbols and entry["kill_switch"] is False
        assert sorted((a["account"], a["symbol"]) for a in s["actors"]) == sorted(
            (n, sym) for n, syms in ACCOUNTS.items() for sym in syms)

        # ETH is traded by alpha and beta: the CLI wants to know which
        missing = cli(EXAMPLE, data, "signal", ETH, "long")
        assert missing.returncode == 2 and "choose from: alpha, beta, gamma, delta" in missing.stderr
        sent = cli(EXAMPLE, data, "signal", ETH, "long", "--account", "beta")
        assert sent.returncode == 0, sent.stderr
        wait_until(lambda: len(beta_eth_protected(data)) == 2, timeout=60, interval=0.3,
                   message="beta's ETH position opened and protected")
        s = wait_status(EXAMPLE, data, lambda s: any(
            a["position"] and len(a["position"]["legs"]) == 2 and a["protected"]
            for a in s["accounts"]["delta"]["actors"]), message="delta's grid holding both legs, protected")
        table = cli(EXAMPLE, data, "status")
        assert table.returncode == 0 and all(f"== account {n} (exchange paper)" in table.stdout for n in ACCOUNTS)
        ambiguous = cli(EXAMPLE, data, "logs", ETH)
        assert ambiguous.returncode == 2 and "traded by accounts alpha, beta" in ambiguous.stderr
        beta_log = cli(EXAMPLE, data, "logs", ETH, "--account", "beta", "-n", "200")
        assert beta_log.returncode == 0 and "manual" in beta_log.stdout
        assert all(" | beta ETH/USDT:USDT | " in line for line in beta_log.stdout.splitlines())

        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert status(EXAMPLE, data)["bot"]["running"] is False

    logs = data / "logs"
    for name, symbols in ACCOUNTS.items():
        for sym in symbols:
            path = logs / name / f"{safe_name(sym)}.log"
            assert path.exists() and "stopped" in path.read_text().splitlines()[-1], path
        assert (data / "accounts" / name / "paper_exchange.sqlite").exists()
        # each account's database holds its own symbols and only its own orders
        assert sorted(r[0] for r in rows(data, name, "SELECT symbol FROM actor_state")) == sorted(symbols)
        orders = [r[0] for r in rows(data, name, "SELECT client_order_id FROM orders")]
        assert all(o.startswith(f"{name}-") for o in orders), orders
    assert "bot stopped" in (logs / "bot.log").read_text().splitlines()[-1]
    beta_eth = rows(data, "beta", f"SELECT side FROM positions WHERE symbol='{ETH}'")
    assert ("long",) in beta_eth
    signals = rows(data, "beta", "SELECT symbol FROM events WHERE type='SignalReceived'")
    assert signals == [(ETH,)]
    assert rows(data, "alpha", "SELECT symbol FROM events WHERE type='SignalReceived'") == []


def test_a_second_bot_on_an_account_already_traded_is_refused_naming_the_pid(tmp_path):
    data = tmp_path / "data"
    holder = start_holder(data / "locks" / "beta.lock")  # another process trades beta
    try:
        proc = start_bot(EXAMPLE, data, "--duration", "30")
        out, err = proc.communicate(timeout=60)
    finally:
        stop(holder)
    assert proc.returncode == 3
    assert f"another bot is already trading account beta (PID {holder.pid} holds" in err
    assert err.strip().count("\n") == 0
    # nothing was started for any account, and the data dir lock was released again
    again = start_bot(EXAMPLE, data, "--duration", "2")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err[-2000:]
