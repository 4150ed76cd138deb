"""A cluster node runs each account's protections as a single bot does (defect: the node's
serve loop wrote the status and applied controls but never ticked the accounts' guards, so on
a node the daily loss limit, drawdown and stop-loss guard never tripped, whatever was lost).

The node's serve loop (runtime/cluster_node.py) over a real guard on real SQLite; the node's
accounts and the bot are handed in as its arguments (one pass: duration 0)."""

from __future__ import annotations

import sqlite3
import threading
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from loguru import logger

from runtime.cluster_node import _serve
from runtime.round_gate import RoundGate
from tests.protections.ledger_rig import BTC, T0, Ledger, protections


class OneAccountNode:
    def __init__(self, runtime: Any, *others: Any) -> None:
        self.runtime = runtime
        self.others = list(others)
        """More accounts held by the node, after the first."""

    def accounts(self) -> list[Any]:
        return [self.runtime, *self.others]


def _errors() -> tuple[list[str], int]:
    """A loguru sink that keeps the ERROR lines (list, sink id)."""
    lines: list[str] = []
    return lines, logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")


class NodeBot:
    """What the node's loop uses of `runtime.runner.Bot`."""

    def __init__(self) -> None:
        self.settings = SimpleNamespace(bot=SimpleNamespace(status_interval_s=0.01))
        self.stop_event = threading.Event()
        self.accounts: list[Any] = []
        self.statuses = 0

    def _write_status(self, running: bool) -> None:
        self.statuses += 1

    def _apply_controls(self, log: Any) -> None:
        pass


def test_a_node_trips_the_daily_loss_limit_of_its_account(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard = ledger.guard(protections(daily_loss_limit_usdt=D(10)), T0 + 60)
    ledger.closed("btc1", BTC, "stop_loss", T0, pnl="-12")
    bot = NodeBot()
    _serve(bot, OneAccountNode(SimpleNamespace(name="main", guard=guard, round=RoundGate())), 0)
    assert bot.statuses == 1
    assert "daily loss limit" in (guard.refuse(BTC, T0 + 60) or "")
    assert guard.status_fields(T0 + 60)["protections"][0]["name"] == "daily_loss_limit"
    ledger.close()


def test_an_account_not_built_yet_is_passed_over(tmp_path: Path):
    """Mutation audit: ticking an account whose guard is not built yet survived this test,
    which did not look at the log: each round of a node starting an account then logged
    "protections of account main failed" (no guard to tick yet)."""
    bot = NodeBot()
    errors, sink = _errors()
    try:
        _serve(bot, OneAccountNode(SimpleNamespace(name="main", guard=None)), 0)
    finally:
        logger.remove(sink)
    assert bot.statuses == 1
    assert errors == []


class BrokenGuard:
    """An account's guard whose pass raises (its database read failed)."""

    def tick(self) -> None:
        raise sqlite3.OperationalError("disk I/O error")


def test_one_accounts_failing_protections_do_not_stop_the_others_or_the_node(tmp_path: Path):
    """Mutation audit: letting the error of one account's protections pass out of
    `tick_protections` survived every test naming the module. It ended the node's run loop:
    the node stopped every account it held (and released their leases) because one account's
    ledger read failed, and the accounts after it were never ticked, their daily loss limit
    not tripped. The failing account is one ERROR line; the next one trips its limit, the
    round writes its status."""
    ledger = Ledger(tmp_path)
    guard = ledger.guard(protections(daily_loss_limit_usdt=D(10)), T0 + 60)
    ledger.closed("btc1", BTC, "stop_loss", T0, pnl="-12")
    broken = SimpleNamespace(name="broken", guard=BrokenGuard(), round=RoundGate())
    fine = SimpleNamespace(name="main", guard=guard, round=RoundGate())
    bot = NodeBot()
    errors, sink = _errors()
    try:
        _serve(bot, OneAccountNode(broken, fine), 0)
    finally:
        logger.remove(sink)
    assert bot.statuses == 1
    assert "daily loss limit" in (guard.refuse(BTC, T0 + 60) or "")
    assert errors == ["protections of account broken failed: OperationalError: disk I/O error"]
    ledger.close()


def test_an_account_the_node_is_stopping_is_not_ticked(tmp_path: Path):
    """Its stop (on the node thread) brings its totals up to date (`guard.catch_up`); a tick of
    the run loop at the same time read the same new ledger rows, and both could count them."""
    ledger = Ledger(tmp_path)
    guard = ledger.guard(protections(daily_loss_limit_usdt=D(10)), T0 + 60)
    ledger.closed("btc1", BTC, "stop_loss", T0, pnl="-12")
    leaving = SimpleNamespace(name="main", guard=guard, round=RoundGate())
    leaving.round.leave()  # NodeAccount.stop's first step
    bot = NodeBot()
    _serve(bot, OneAccountNode(leaving), 0)
    assert bot.statuses == 1
    assert guard.refuse(BTC, T0 + 60) is None  # not ticked: nothing evaluated here
    ledger.close()
