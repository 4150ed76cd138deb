"""Several accounts in one process, with real parts (pykka actors, supervisors, SQLite files,
paper exchanges): a crash loop, escalations and a tripped kill switch in one account never stop
or block another, even on a symbol both trade."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

from loguru import logger

from actors.messages import ExternalSignal
from actors.symbol_actor import SymbolActor
from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.stop_accounts import stop_all
from storage import queries
from supervision.child import ChildState
from tests.support.crashing import ActorBug
from tests.support.waiting import wait_until
from trading.model import Side

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"

CONFIG = f"""
[exchange]
poll_interval_s = 0.05
[strategy]
window = 10000            # the strategy stays quiet: signals drive the trades
entry_z = 5.0
exit_z = 0.1
[paper]
latency_ms = 0
step_ms = 100
speed = 600.0
[supervision]
heartbeat_interval_s = 0.05
heartbeat_timeout_s = 10
max_restarts = 1
backoff_initial_s = 0.01
backoff_max_s = 0.05
kill_switch_escalations = 1
reconcile_interval_s = 3600

[[accounts]]
name = "a"
symbols.list = ["{BTC}", "{ETH}"]

[[accounts]]
name = "b"
symbols.list = ["{ETH}", "{SOL}"]
"""


class CrashOnEveryPrice:
    name = "buggy"

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        raise ActorBug("bug in strategy")


def crashing(symbol: str, deps):  # noqa: ANN001, ANN201 - an ActorStarter with a buggy strategy
    return SymbolActor.start(symbol, dataclasses.replace(
        deps, strategy_for=lambda s: CrashOnEveryPrice()))


def signal(account: AccountRuntime, symbol: str, side: Side | None) -> bool:
    return account.sup.deliver_signal(
        symbol, ExternalSignal(side=side, signal_id=uuid.uuid4().hex[:10]))


def position(account: AccountRuntime, symbol: str):  # noqa: ANN201
    published = account.views.get(symbol)
    return None if published is None else published.view()


def round_trip(account: AccountRuntime, symbol: str) -> None:
    """Open a position by signal, see it protected by its exchange stop, close it."""
    # running: the supervisor delivers a signal only once it read the actor's "started"
    # report, from its own inbox, after the actor published its view
    wait_until(lambda: (v := position(account, symbol)) is not None and v.reconciled
               and v.last_tick_at is not None
               and account.sup.children[symbol].state is ChildState.RUNNING,
               timeout=30, message=f"{account.name} {symbol} ready")
    assert signal(account, symbol, Side.LONG)
    wait_until(lambda: (v := position(account, symbol)) is not None and v.position and v.protected,
               timeout=30, message=f"{account.name} {symbol} open and protected")
    assert signal(account, symbol, None)
    wait_until(lambda: position(account, symbol).phase == "flat", timeout=30,
               message=f"{account.name} {symbol} closed")


def test_crash_loop_escalations_and_kill_switch_in_one_account_leave_the_other_trading(
        tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    settings = load_settings(path)
    data = settings.data_dir_path()
    a_settings, b_settings = settings.account_settings()
    a = AccountRuntime(a_settings, data, logger=logger, tagged=True, start_actor=crashing)
    b = AccountRuntime(b_settings, data, logger=logger, tagged=True)
    accounts = [a, b]
    try:
        for account in accounts:
            account.open()
            account.build()
        for account in accounts:
            account.start()
        # account a: every symbol crash-loops into quarantine; two escalations trip its kill switch
        wait_until(lambda: a.sup.kill_switch and all(
                       c.state.value == "quarantined" for c in a.sup.children.values()),
                   timeout=60, message="account a quarantined with its kill switch on")
        assert a.sup.entries_blocked()
        # account b never noticed: same symbol (ETH), its own supervisor, kill switch and database
        assert not b.sup.kill_switch and not b.sup.entries_blocked()
        round_trip(b, ETH)
        round_trip(b, SOL)
        assert all(c.state.value == "running" and c.restarts == 0 for c in b.sup.children.values())
        assert a.sup.kill_switch  # still on: b's trades changed nothing of a's

        a_escalated = a.repo.read(queries.open_escalations)
        assert sorted(e["symbol"] for e in a_escalated) == [BTC, ETH]
        assert b.repo.read(queries.open_escalations) == []
        assert a.repo.get_meta("kill_switch") == "1" and b.repo.get_meta("kill_switch") is None
        kinds = [(p["kind"], p.get("account")) for p in a.alerts.sent]
        assert ("kill_switch", "a") in kinds and b.alerts.sent == []
        # each account's rows are its own, on the shared symbol too
        b_positions = b.repo.read(queries.positions, ETH)
        assert [p.status for p in b_positions] == ["closed"]
        assert a.repo.read(queries.positions, ETH) == []
        b_orders = b.repo.read(queries.orders, ETH)
        assert b_orders and all(o.client_order_id.startswith(f"b-{b.repo.id_tag}-")
                                for o in b_orders)
        assert a.repo.read(queries.orders, ETH) == []
        assert a.repo.path != b.repo.path
    finally:
        stop_all(accounts, logger)
        for account in accounts:
            account.close()
