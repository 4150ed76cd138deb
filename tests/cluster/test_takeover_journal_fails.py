"""A takeover whose journal commit fails (the database drops the connection, the writer's commit
times out) is one ERROR line in the node's log, and its thread ends cleanly. Found by review:
`journal_when_ready` let the error out of its thread: the traceback went to stderr (not the
bot's log, where nothing said the takeover was not journaled) and the thread died without its
'running at epoch' line. Real threads; the account handle and the announce are injected."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from loguru import logger

from cluster.lease import Lease
from cluster.node_ready import journal_when_ready
from cluster.node_types import AccountHandle, Held
from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.node_accounts import NodeAccount
from runtime.stop_accounts import stop_all
from supervision.child import ChildState
from tests.cluster.leases_support import IdleAccount
from tests.runtime.test_hook_outbox_closed_with_account import CONFIG as HOOK_CONFIG
from tests.support.waiting import wait_until

ETH = "ETH/USDT:USDT"
LEASE = Lease(account="a0", owner="node-b", epoch=7, expires_at_ms=0, renewed_at_ms=0,
              previous_owner="node-a")


@dataclass
class Journaled:
    """What one run of journal_when_ready left: the node's log lines ("LEVEL message"), the
    takeovers recorded in the cluster table, the exceptions its thread let out."""

    lines: list[str] = field(default_factory=list)
    recorded: list[Any] = field(default_factory=list)
    uncaught: list[BaseException | None] = field(default_factory=list)


def _journal_when_ready(handle: AccountHandle, announce: Callable[[str, str, dict[str, Any]], bool],
                        held: Callable[[], dict[str, Held]] | None = None,
                        **kwargs: Any) -> Journaled:
    """Run journal_when_ready for LEASE's takeover on a real thread to its end, the account
    held by `handle` (or what `held` says the node holds), with `announce` and a cluster table
    that records (`kwargs`: its own)."""
    out = Journaled()
    held = held or (lambda: {"a0": Held(lease=LEASE, handle=handle, started_at=0.0)})

    class Registry:
        def record_takeover(self, lease: Lease, kind: str) -> None:
            out.recorded.append((lease, kind))

    sink = logger.add(
        lambda m: out.lines.append(f"{m.record['level'].name} {m.record['message']}"),
        level="INFO")
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: out.uncaught.append(args.exc_value)
    try:
        thread = threading.Thread(target=journal_when_ready, args=("a0", LEASE, handle,
                                                                    "takeover"),
                                  kwargs={"node_id": "node-b",
                                          "held": held,
                                          "announce": announce, "registry": Registry(),
                                          "log": logger, **kwargs})
        thread.start()
        thread.join(30)
        assert not thread.is_alive()
    finally:
        threading.excepthook = previous_hook
        logger.remove(sink)
    return out


def test_a_journal_commit_that_fails_is_one_line_and_nothing_recorded() -> None:
    def announce(account: str, message: str, data: dict[str, Any]) -> bool:
        raise TimeoutError("database commit did not finish in time")

    run = _journal_when_ready(IdleAccount(), announce)
    assert run.uncaught == []
    assert run.recorded == []  # never recorded in the cluster table without the journal
    assert [line for line in run.lines if line.startswith("ERROR")] == [
        "ERROR a0: takeover at epoch 7 not journaled: TimeoutError: database commit did not "
        "finish in time; not recorded in the cluster table either"]


class NeverRunning(IdleAccount):
    def ready(self) -> bool:
        return False  # a symbol restarting again and again, never running


def test_a_takeover_whose_account_never_fully_runs_is_still_announced() -> None:
    """Found by review: after 120 s without every symbol running, the takeover was given up:
    never journaled, never alerted (cluster_takeover), so nobody was told a node had taken the
    account over. It is announced at the deadline (not recorded in the cluster table, whose
    rows carry the time the account ran)."""
    announced: list[tuple[str, dict[str, Any]]] = []

    def announce(account: str, message: str, data: dict[str, Any]) -> bool:
        announced.append((account, data))
        return True

    run = _journal_when_ready(NeverRunning(), announce, ready_timeout_s=0.2)
    assert announced == [("a0", {"epoch": 7, "previous_owner": "node-a"})]
    assert run.uncaught == [] and run.recorded == []
    assert any(line.startswith("WARNING a0: not running 0.2s after epoch 7 began; its takeover "
                               "is announced now") for line in run.lines), run.lines


class FailingRepo:
    """The account's repository whose journal commit fails (the database dropped the
    connection)."""

    def __init__(self) -> None:
        self.tried: list[str] = []

    def record(self, symbol: str, type_: str, data: dict[str, Any], *,
               correlation_id: str) -> None:
        self.tried.append(type_)
        raise ConnectionError("server closed the connection unexpectedly")


@pytest.mark.parametrize("now_held", ["nothing", "a later epoch"])
def test_an_account_stopped_before_it_ran_is_not_announced(now_held: str) -> None:
    """Mutation audit (cluster/node_ready.py): journaling went on when the account the thread
    waits for was stopped before it ran (`break` for the `return`), or when the node now runs
    the account under another start (the handle check dropped), and no test failed. Either way
    a takeover that never ran here was announced when the wait ran out: a `cluster_takeover`
    alert and a journal entry for an epoch that is over (the node already runs, and announces,
    the later one), or a cluster-table row with a ready time for an account that never ran.
    The lease was lost or the node stops (`nothing`), or the account was stopped and taken
    again under epoch 8 (`a later epoch`): the thread ends without a word."""
    later = Lease(account="a0", owner="node-b", epoch=8, expires_at_ms=0, renewed_at_ms=0,
                  previous_owner="node-b")
    now = {} if now_held == "nothing" else {
        "a0": Held(lease=later, handle=IdleAccount(), started_at=1.0)}
    announced: list[dict[str, Any]] = []

    def announce(account: str, message: str, data: dict[str, Any]) -> bool:
        announced.append(data)
        return True

    run = _journal_when_ready(NeverRunning(), announce, held=lambda: dict(now),
                              ready_timeout_s=0.2)
    assert announced == [] and run.recorded == [] and run.uncaught == []
    assert not [line for line in run.lines if "a0" in line], run.lines


def test_a_takeover_whose_journal_commit_fails_is_still_alerted() -> None:
    """Found by review: runtime/cluster_node.py `_announce` alerted only after the journal
    commit; a commit that failed was one ERROR line in the log and no cluster_takeover alert,
    so nobody was told a node had taken the account over. The alert goes out, saying the
    takeover was not journaled; the node's ERROR line is still there and nothing is recorded
    in the cluster table. Real Alerts and a real thread; the repository is injected."""
    from types import SimpleNamespace

    from runtime.cluster_node import announce_takeover
    from supervision.alerts import Alerts

    repo = FailingRepo()
    alerts = Alerts(logger=logger)
    runtime = SimpleNamespace(name="a0", repo=repo, alerts=alerts)

    def announce(account: str, message: str, data: dict[str, Any]) -> bool:
        return announce_takeover(runtime, "node-b", message, data)  # type: ignore[arg-type]

    run = _journal_when_ready(IdleAccount(), announce)
    assert run.uncaught == []  # the helper keeps what the thread let out: it must be nothing
    assert repo.tried == ["ClusterTakeover"]
    assert [(a["kind"], a["epoch"], a["node"], a["previous_owner"]) for a in alerts.sent] == [
        ("cluster_takeover", 7, "node-b", "node-a")]
    assert alerts.sent[0]["message"] == (
        "account a0 taken over by node node-b at epoch 7 from node-a (not journaled: "
        "ConnectionError: server closed the connection unexpectedly)")
    assert run.recorded == []
    assert any(line.startswith("ERROR a0: takeover at epoch 7 not journaled: ConnectionError")
               for line in run.lines), run.lines


def test_an_account_with_a_quarantined_symbol_runs_and_its_takeover_is_recorded(
        tmp_path: Path) -> None:
    """A quarantined symbol waits for a person while the account's other symbols trade: the
    account runs (runtime/node_accounts.py `NodeAccount.ready`). Mutation audit: leaving
    QUARANTINED out of the states that count as ready survived every test naming the module.
    With it, a takeover of an account with one quarantined symbol never ran as far as the node
    could tell: no "running at epoch" line, no ready time in the cluster table (`bot.py cluster`
    shows no takeover cost), and a "not running" warning after 120 s. Real AccountRuntime
    (paper exchange, actors, SQLite); the symbol is quarantined in its database before the
    account starts: its stored row cannot be read."""
    config = tmp_path / "config.toml"
    config.write_text(HOOK_CONFIG.replace('list = ["BTC/USDT:USDT"]',
                                          f'list = ["BTC/USDT:USDT", "{ETH}"]'))
    settings = load_settings(config)
    account = AccountRuntime(settings, settings.data_dir_path(), logger=logger, tagged=False)
    try:
        account.open()
        assert account.repo is not None
        account.repo.quarantine(ETH, "a stored row", correlation_id="t")  # the row, then
        with sqlite3.connect(account.repo.path) as con:  # made unreadable (incident 7)
            con.execute("UPDATE actor_state SET phase = 'garbage' WHERE symbol = ?", (ETH,))
        con.close()
        account.build()
        account.start()
        sup = account.sup
        assert sup is not None
        wait_until(lambda: sup.children[ETH].state is ChildState.QUARANTINED
                   and sup.children["BTC/USDT:USDT"].state is ChildState.RUNNING,
                   timeout=60, message="BTC running, ETH quarantined (unreadable row)")
        run = _journal_when_ready(NodeAccount(account), lambda *_: True, ready_timeout_s=10)
        assert run.recorded == [(LEASE, "takeover")]
        assert "INFO a0: running at epoch 7 (takeover)" in run.lines
    finally:
        stop_all([account], logger)
        account.close()


def _opened_account(tmp_path: Path) -> AccountRuntime:
    """A real AccountRuntime (paper exchange, SQLite journal, its alerts), opened and built."""
    config = tmp_path / "config.toml"
    config.write_text(HOOK_CONFIG)
    settings = load_settings(config)
    account = AccountRuntime(settings, settings.data_dir_path(), logger=logger, tagged=False)
    account.open()
    account.build()
    return account


def test_a_journaled_takeover_is_alerted_once_with_its_epoch(tmp_path: Path) -> None:
    """Rule: takeovers are journaled and alerted. Mutation audit (runtime/cluster_node.py
    `announce_takeover`): dropping the `cluster_takeover` alert after a journal commit that
    succeeds, or journaling every takeover under one correlation id, survived every test
    naming the module (only the failing commit's alert was tested): a node took an account
    over and nobody was told, or the journal could not tell one takeover's epoch from
    another's (the failover check counts them per epoch). Real AccountRuntime (SQLite
    journal, real Alerts)."""
    from runtime.cluster_node import announce_takeover

    account = _opened_account(tmp_path)
    try:
        assert account.repo is not None and account.alerts is not None
        message = "account a0 taken over by node node-b at epoch 7 from node-a"
        assert announce_takeover(account, "node-b", message,
                                 {"epoch": 7, "previous_owner": "node-a"}) is True
        sent = [a for a in account.alerts.sent if a["kind"] == "cluster_takeover"]
        assert [(a["message"], a["node"], a["epoch"], a["previous_owner"]) for a in sent] == [
            (message, "node-b", 7, "node-a")]
        path = account.repo.path
    finally:
        account.close()
    with sqlite3.connect(path) as con:
        rows = con.execute("SELECT correlation_id FROM events WHERE type = 'ClusterTakeover'"
                           ).fetchall()
    con.close()
    assert rows == [("takeover-7",)]


def test_a_takeover_met_by_a_closed_journal_is_not_journaled_nor_alerted(
        tmp_path: Path) -> None:
    """Mutation audit: `announce_takeover` saying True when the account's writer had stopped
    (the account stopped here meanwhile) survived every test naming the module. The node
    would then record in the cluster table a takeover its account's journal lacks (the order
    journal first, then the table, exists to rule that out) and log it running at that epoch.
    It says False and alerts nothing: the node that runs the account next announces its own."""
    from runtime.cluster_node import announce_takeover

    account = _opened_account(tmp_path)
    repo, alerts = account.repo, account.alerts
    assert repo is not None and alerts is not None
    try:
        repo.close()  # the account's writer stopped under the announcing thread
        assert announce_takeover(account, "node-b", "taken over",
                                 {"epoch": 7, "previous_owner": "node-a"}) is False
        assert [a for a in alerts.sent if a["kind"] == "cluster_takeover"] == []
    finally:
        account.close()


def test_a_lease_lost_under_a_running_account_reaches_its_alert_hooks(tmp_path: Path) -> None:
    """Rule: a lease lost under an account is alerted (README: `cluster_lease_lost` through the
    account's hooks). Mutation audit: the node's alert (runtime/cluster_node.py
    `NodeRun._alert`) only logging, never reaching the account's hooks, survived every test
    naming the module (the node's own tests inject their alert): an outage that stopped every
    account reached no webhook, command or chat. Through the account's real Alerts while it
    runs here; one ERROR line once it does not."""
    from runtime.cluster_node import alert_account

    account = _opened_account(tmp_path)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    try:
        assert account.alerts is not None
        alert_account(account, "node-b", "cluster_lease_lost", "a0: lease epoch 7 was lost")
        assert [(a["kind"], a["message"], a["node"]) for a in account.alerts.sent] == [
            ("cluster_lease_lost", "a0: lease epoch 7 was lost", "node-b")]
        lines.clear()  # (the account's Alerts log each alert too)
        alert_account(None, "node-b", "cluster_lease_lost", "a0: lease epoch 8 was lost")
        assert lines == ["ALERT cluster_lease_lost: a0: lease epoch 8 was lost"]
    finally:
        logger.remove(sink)
        account.close()
