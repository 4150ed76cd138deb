"""A cluster node runs each account's protections as a single bot does (defect: the node's
serve loop wrote the status and applied controls but never ticked the accounts' guards, so on
a node the daily loss limit, drawdown and stop-loss guard never tripped, whatever was lost).

The node's serve loop (runtime/cluster_node.py) over a real guard on real SQLite; the node's
accounts and the bot are handed in as its arguments (one pass: duration 0)."""

from __future__ import annotations

import threading
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from runtime.cluster_node import _serve
from runtime.round_gate import RoundGate
from tests.protections.ledger_rig import BTC, T0, Ledger, protections


class OneAccountNode:
    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def accounts(self) -> list[Any]:
        return [self.runtime]


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
    bot = NodeBot()
    _serve(bot, OneAccountNode(SimpleNamespace(name="main", guard=None)), 0)
    assert bot.statuses == 1


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
