"""An emergency close sent after a crash-loop escalation, whose fill waits for an actor that
does not run (found by review): the supervisor had stopped the symbol's actor, so the "then
reconcile" after the close reached nobody; until a person's `bot.py resume` or a restart the
status showed the position open (as last known), its P&L unbooked, and nothing said that the
close had gone out. The status dump now lists it under `emergency_closes_not_booked` (the
table an `EMERGENCY CLOSE SENT ... ITS FILL NOT BOOKED` line) with a WARNING line, until the
symbol's actor runs again. Real AccountRuntime on the paper exchange, real SQLite, real
supervisor and closer threads; the actor's start fails (an injected starter) so it
crash-loops, then starts for real after the resume."""

from __future__ import annotations

import threading
import time
from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from actors.symbol_actor import SymbolActor
from config.loader import load_settings
from exchange.paper.exchange import PaperExchange
from runtime.account import AccountRuntime
from runtime.status_cli import show_status, status_dump
from runtime.stop_accounts import stop_all
from supervision.status import combine_status, write_status
from tests.exchange.paper.paper_support import BTC, ScriptedPrices
from tests.runtime.test_emergency_resume import CONFIG
from tests.support.waiting import wait_until

FAST_LOOP = "reconcile_interval_s = 3600\nmax_restarts = 1\nbackoff_initial_s = 0.01\n"


def test_a_close_sent_while_the_actor_is_stopped_shows_until_it_runs(tmp_path: Path,
                                                                    capsys) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data").replace(
        "reconcile_interval_s = 3600\n", FAST_LOOP))
    settings = load_settings(config)
    data_dir = settings.data_dir_path()
    paper: list[PaperExchange] = []
    broken = threading.Event()
    broken.set()

    def build(s, data_dir):
        paper.append(PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC],
                                   price_source=ScriptedPrices({BTC: D(100)}),
                                   starting_balance=D(10000), slippage_bps=D(0)))
        return paper[0]

    def start_actor(symbol, deps):
        if broken.is_set():
            raise RuntimeError("a bug in the actor's start")
        return SymbolActor.start(symbol, deps)

    account = AccountRuntime(settings.account_settings()[0], data_dir, logger=logger,
                             tagged=False, build_exchange_=build, start_actor=start_actor)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    stopped = False
    try:
        account.open()
        paper[0].create_order(BTC, "market", "buy", D(1), None, {"clientOrderId": "in1"})
        account.build()
        account.start()  # every start fails: the symbol escalates, the emergency close runs
        assert account.sup is not None and account.closer is not None
        wait_until(lambda: not [p for p in paper[0].fetch_positions([BTC]) if p.contracts > 0],
                   timeout=60, message="the emergency close filled")
        account.closer.wait()
        assert account.sup.children[BTC].state.value == "quarantined"
        now = time.time()
        write_status(data_dir, combine_status({"pid": 1, "running": True, "version": "t"},
                                              {"main": account.status({"pid": 1}, now)}, now,
                                              grouped=False))
        dump = status_dump(data_dir)
        assert dump is not None
        [entry] = dump["emergency_closes_not_booked"]
        assert entry["symbol"] == BTC and len(entry["orders"]) == 1
        assert entry["orders"][0].endswith("x") and entry["sent_at"] <= time.time()
        assert any("its fill not booked yet" in line for line in lines), lines
        assert show_status(data_dir, as_json=False, account=None) is None
        table = capsys.readouterr().out
        assert f"EMERGENCY CLOSE SENT {BTC}" in table and "ITS FILL NOT BOOKED" in table
        broken.clear()  # fixed; a person resumes the symbol: its actor starts and reconciles
        account.sup.resume(BTC)
        wait_until(lambda: account.sup.children[BTC].state.value == "running", timeout=60,
                   message="the resumed actor runs")
        assert account.status({"pid": 1}, time.time())["emergency_closes_not_booked"] == []
        stopped = True
        stop_all([account], logger)
    finally:
        logger.remove(sink)
        if not stopped:
            stop_all([account], logger)
        account.close()
