"""The status dump lists the emergency closes still owed (found by review): `bot.py status`
showed the escalation but not that its close had failed and was still owed (nor one owed for a
symbol taken off symbols.list), so a person reading it could not tell that a position was still
waiting to be closed, when the next try was, or why the last one failed. Each owed close is now
under `emergency_closes_owed` (symbol, reason, since, listed, failed runs, next try, last error
with no secret in it) and a line of the table. Real AccountRuntime on the paper exchange, real
SQLite, real actors and closer thread; the dump is written and read back as `bot.py status`
reads it."""

from __future__ import annotations

import json
import os
import time
from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from config.loader import load_settings
from exchange import errors
from exchange.paper.exchange import PaperExchange
from runtime.account import AccountRuntime
from notifications.status_text import status_text
from observability.metrics import BotMetrics
from runtime.emergency import OWED
from runtime.status_cli import show_status, status_dump
from runtime.stop_accounts import stop_all
from supervision.instance_lock import InstanceLock
from supervision.status import combine_status, write_status
from tests.exchange.paper.paper_support import BTC, ScriptedPrices
from tests.runtime.test_emergency_resume import CONFIG
from tests.support.waiting import wait_until
from trading.commands import Escalate

ETH = "ETH/USDT:USDT"
REASON = "close failed 3 times"
SECRET = "s3cr3t-api-secret-value"


def test_owed_closes_are_in_the_status_dump(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("EMERG3_TEST_SECRET", SECRET)
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"))
    settings = load_settings(config)
    data_dir = settings.data_dir_path()
    paper: list[PaperExchange] = []

    def build(s, data_dir):
        paper.append(PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC],
                                   price_source=ScriptedPrices({BTC: D(100)}),
                                   starting_balance=D(10000), slippage_bps=D(0)))
        return paper[0]

    account = AccountRuntime(settings.account_settings()[0], data_dir, logger=logger,
                             tagged=False, build_exchange_=build,
                             secret_env=frozenset({"EMERG3_TEST_SECRET"}))
    stopped = False
    try:
        account.open()
        repo = account.repo
        assert repo is not None
        repo.set_meta(OWED + ETH, "close failed 2 times")  # owed when ETH was still listed
        account.build()
        account.start()
        assert account.sup is not None
        paper[0].faults.fail_next("fetch_positions", 1000, errors.ExchangeUnavailable(
            f"HTTP 503 (key {SECRET}, signature=abcdef0123)"))
        before = time.time()
        repo.add_escalation(BTC, REASON, 3, "x")  # as the core commits it with the owed close
        repo.set_meta(OWED + BTC, REASON)
        account.sup.escalated(BTC, Escalate(reason=REASON, attempts=3, last_error="x"))

        def owed() -> list:
            st = account.status({"pid": 1, "running": True}, time.time())
            entries = st["emergency_closes_owed"]
            return entries if any(e["next_retry_at"] for e in entries) else []

        entries = wait_until(owed, timeout=60, message="the owed close waits to run again")
        now = time.time()
        bot = {"pid": os.getpid(), "running": True, "version": "t"}
        write_status(data_dir, combine_status(bot, {"main": account.status(bot, now)}, now,
                                              grouped=False))
        lock = InstanceLock(data_dir / "bot.lock")
        lock.acquire()  # as the running bot holds it
        try:
            dump = status_dump(data_dir)
            assert show_status(data_dir, as_json=False, account=None) is None
        finally:
            lock.release()
        assert dump is not None
        assert dump["accounts"]["main"]["emergency_closes_owed"] == dump["emergency_closes_owed"]
        btc, eth = sorted(dump["emergency_closes_owed"], key=lambda e: e["symbol"])
        assert btc["symbol"] == BTC and btc["reason"] == REASON and btc["listed"] is True
        assert btc["failed_runs"] == 1 and btc["since"] >= before - 1
        assert btc["next_retry_at"] >= before + 59  # a minute after the failed run
        assert "HTTP 503" in btc["last_error"]
        assert eth["symbol"] == ETH and eth["listed"] is False and eth["failed_runs"] == 0
        assert SECRET not in json.dumps(dump) and "abcdef0123" not in json.dumps(dump)
        assert len(entries) == 2
        # Telegram's /status reply reads the same dump: the owed closes are in it too
        reply = status_text(dump).splitlines()
        [btc_reply] = [line for line in reply if f"EMERGENCY CLOSE OWED {BTC}" in line]
        assert "failed 1 time" in btc_reply and "HTTP 503" in btc_reply
        assert "next try" in btc_reply and SECRET not in btc_reply
        [eth_reply] = [line for line in reply if f"EMERGENCY CLOSE OWED {ETH}" in line]
        assert "not in symbols.list" in eth_reply and "not run yet" in eth_reply
        # and /metrics counts them, so an alerting rule can page on them
        from prometheus_client.parser import text_string_to_metric_families

        text = BotMetrics(snapshot=lambda: dump).render().decode()
        values = {s.name: s.value for f in text_string_to_metric_families(text)
                  for s in f.samples if s.labels.get("account") == "main"}
        assert values["bot_emergency_closes_owed"] == 2
        assert values["bot_emergency_closes_not_booked"] == 0
        table = capsys.readouterr().out
        [btc_line] = [line for line in table.splitlines() if f"EMERGENCY CLOSE OWED {BTC}" in line]
        assert "failed runs 1" in btc_line and "next try" in btc_line and SECRET not in btc_line
        [eth_line] = [line for line in table.splitlines() if f"EMERGENCY CLOSE OWED {ETH}" in line]
        assert "not in symbols.list" in eth_line
        # the bot gone (its lock free): nothing runs or waits to run again, the next start does
        gone = status_dump(data_dir)
        assert gone is not None and gone["bot"]["running"] is False
        [btc_gone] = [e for e in gone["emergency_closes_owed"] if e["symbol"] == BTC]
        assert btc_gone["running"] is False and btc_gone["next_retry_at"] is None
        assert btc_gone["failed_runs"] == 1 and "HTTP 503" in btc_gone["last_error"]
        assert show_status(data_dir, as_json=False, account=None) is None
        [btc_line] = [line for line in capsys.readouterr().out.splitlines()
                      if f"EMERGENCY CLOSE OWED {BTC}" in line]
        assert "the next start runs it" in btc_line and "next try" not in btc_line
        stopped = True
        stop_all([account], logger)
    finally:
        paper[0].faults.clear()
        if not stopped:
            stop_all([account], logger)
        account.close()
