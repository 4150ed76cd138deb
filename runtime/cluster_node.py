"""`python bot.py run` with `[cluster] enabled = true`: this process is one node of a cluster.

The node runs only the accounts whose lease it holds (cluster/node.py). Each account runs as in
a single bot (AccountRuntime: restore, reconcile, supervise; runtime/node_accounts.py), with
three differences: its exchange port is fenced by the lease (FencedExchange), its client order
ids carry the lease epoch, and its exchange timeout is the cluster's (it is part of every
takeover's wait).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loguru import logger

from cluster.lease import LeaseLost, LeaseSettings, LeaseStoreUnavailable, new_node_id
from cluster.node import ClusterNode
from cluster.node_id_claim import NodeIdInUse, claim
from cluster.view import cluster_view, view_or_error
from config.settings import Settings
from observability.error_text import describe
from protections.guard import ACCOUNT_SUBJECT
from runtime import wiring
from runtime.account import AccountRuntime
from runtime.exchanges import account_keys, check_shared_feeds
from runtime.node_accounts import NodeAccount, NodeAccounts
from runtime.round_gate import AccountLeft
from runtime.startup_error import StartupConfigError
from runtime.wiring import StartupError
from storage.cluster_database import open_database
from storage.cluster_registry import ClusterRegistry
from storage.leases import LeaseStore
from storage.writer import WriterStopped
from trading.client_ids import EPOCH_RESERVE, check_fits, epoch_tag


def lease_settings(s: Settings) -> LeaseSettings:
    """The lease timing from `[cluster]`: the takeover grace is the nodes' exchange timeout."""
    c = s.cluster
    try:
        return LeaseSettings(ttl_s=c.lease_ttl_s, request_timeout_s=c.exchange_timeout_ms / 1000,
                             safety_margin_s=c.lease_safety_margin_s)
    except ValueError as exc:  # "cluster lease <key>: ..." -> the config key, one line
        raise StartupError(str(exc).replace("cluster lease ", "cluster.lease_", 1)) from None


def node_settings(s: Settings) -> list[Settings]:
    """Every account's settings as a node runs them (cluster exchange timeout, shared dir)."""
    c, out = s.cluster, []
    for a in s.account_settings():
        update: dict[str, Any] = {
            "exchange": a.exchange.model_copy(update={"timeout_ms": c.exchange_timeout_ms})}
        if c.shared_dir:
            shared = s.resolve(c.shared_dir) / a.bot.account / Path(a.storage.path).name
            update["storage"] = a.storage.model_copy(update={"path": str(shared)})
        out.append(a.model_copy(update=update))
    return out


def make_node_private(s: Settings, data_dir: Path) -> list[str]:
    """The data dir made private, and each account's database in `cluster.shared_dir` (with
    its -wal/-shm) 0600, as a single bot makes a database outside its data dir (found by
    review: a shared-dir database copied in or made by another tool stayed readable by every
    local user while the node traded in it). One line per path that could not be changed."""
    from runtime.private_files import make_files_private, make_private

    problems = make_private(data_dir)
    if s.cluster.shared_dir and not s.storage.url:
        problems += make_files_private([Path(a.storage.path) for a in node_settings(s)])
    return problems


def database_url(s: Settings) -> str:
    """The leases' database: cluster.database_url, else storage.url (the accounts' own)."""
    url = s.cluster.database_url or s.storage.url
    if not url.startswith(("postgresql://", "postgres://")):
        raise StartupConfigError("cluster.database_url: a postgresql://... URL is required "
                                 "when cluster.enabled = true (or set storage.url and leave it "
                                 "empty)")
    return url


def database_key(s: Settings) -> str:
    """The config key that named the leases' database (for its errors): the user set that one."""
    return "cluster.database_url" if s.cluster.database_url else "storage.url"


def check_node(s: Settings, accounts: list[Settings]) -> None:
    """Startup refusals, one line each, before anything is acquired."""
    if not s.storage.url and not s.cluster.shared_dir:
        raise StartupConfigError("storage.url: cluster nodes must share the accounts' databases: "
                                 "set storage.url (PostgreSQL), or cluster.shared_dir for nodes "
                                 "on one machine (cluster.enabled = true)")
    if s.storage.url and s.cluster.shared_dir:  # found by review: ignored without a word
        raise StartupConfigError("cluster.shared_dir: set together with storage.url, whose "
                                 "PostgreSQL database holds the accounts (the shared dir would be "
                                 "ignored): leave one of them empty")
    for i, a in enumerate(accounts):
        key = f"accounts[{i}]." if s.has_accounts else ""
        if a.exchange.id == "paper":
            raise StartupConfigError(
                f"{key}exchange.id = \"paper\" is one process's file and cannot be shared by "
                "cluster nodes: serve it with `python -m exchange.paper_server` and use "
                "exchange.id = \"bybit\" with exchange.api_url (README, Cluster)")
        if a.bot.mode != "live":
            raise StartupConfigError(f"bot.mode = {a.bot.mode!r}: cluster nodes trade a shared "
                                     "exchange, so bot.mode must be \"live\" (the paper server "
                                     "is one)")
        if a.exchange.stop_mode == "bot":  # found by review: accepted, and such stops lapse
            raise StartupConfigError(
                f"{key}exchange.stop_mode = \"bot\": a node stops an account whenever its lease "
                "is lost or handed over, and a stop held by the bot lapses with it; cluster "
                "nodes need stop_mode = \"exchange\" (stops that stay on the exchange)")
        for symbol in a.symbol_list:
            try:
                check_fits(a.bot.account, epoch_tag("ffff", EPOCH_RESERVE), symbol)
            except ValueError as exc:
                raise StartupConfigError(f"{key}symbols.list: {exc} (cluster ids carry the "
                                         "lease epoch)") from None
    # a node may hold all of them, in one process: one budget
    check_shared_feeds(accounts, account_keys(s))
    if s.cluster.shared_dir and not s.storage.url:
        check_shared_dir(s.resolve(s.cluster.shared_dir))


def check_node_keys(s: Settings, accounts: list[Settings],
                    environ: Mapping[str, str] | None = None) -> None:
    """An account's API key variable not set in this node's environment: one line, exit 2, as
    a single bot's exchange start refuses it (found by the README audit: the node failed the
    account's start with a traceback and retried it for as long as it ran; a variable set but
    empty is refused earlier, config/secrets.py credential_problem)."""
    env = os.environ if environ is None else environ
    for i, a in enumerate(accounts):
        e = a.exchange
        if e.secrets_file:
            continue
        for key, name in (("api_key_env", e.api_key_env), ("api_secret_env", e.api_secret_env)):
            if name and name not in env:
                at = f"accounts[{i}]." if s.has_accounts else ""
                raise StartupConfigError(
                    f"{at}exchange.{key}: environment variable {name} is not set: every "
                    "cluster node needs the account's API key and secret in its environment")


def check_shared_dir(path: Path) -> None:
    """Found by review: a shared dir the node cannot create or write in started a node that
    ran for ever, each account's start failing ("[Errno 2] No such file or directory") with
    its backoff, each failure taking a new epoch, and no line naming the key."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StartupConfigError(f"cluster.shared_dir: cannot create {path} "
                                 f"({(exc.strerror or str(exc)).lower()})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StartupConfigError(f"cluster.shared_dir: cannot write in {path} (permission "
                                 "denied)")


def check_timing(lease: LeaseSettings, accounts: list[Settings]) -> None:
    """The takeover grace must cover the longest exchange request a node can have in flight
    when it stops acting: refuse a node whose accounts' timeout is longer than the grace."""
    for a in accounts:
        if a.exchange.timeout_ms > lease.takeover_grace_ms:
            raise StartupError(
                f"exchange.timeout_ms = {a.exchange.timeout_ms} (account {a.bot.account}) is "
                f"longer than the takeover grace {lease.takeover_grace_ms} ms "
                "(cluster.exchange_timeout_ms): a request could outlive the lease")
    bound = lease.ttl_s + lease.request_timeout_s
    if bound >= 10:
        logger.warning("cluster: a takeover waits up to {:.1f}s after a node's last renewal "
                       "(lease_ttl_s + exchange_timeout_ms) before the restore even starts",
                       bound)


def _claim(registry: ClusterRegistry, node_id: str, ttl_ms: int,
           key: str = "cluster.database_url") -> None:
    """A configured node id: wait out a crashed predecessor's beat, refuse a live twin."""
    try:
        claim(registry, node_id, ttl_ms)
    except NodeIdInUse as exc:
        raise StartupError(str(exc)) from None
    except LeaseStoreUnavailable as exc:
        raise StartupError(f"{key}: {exc}") from None


class NodeRun:
    """The node's parts for the runner: built from settings, started, stopped."""

    def __init__(self, settings: Settings, data_dir: Path,
                 environ: Mapping[str, str] | None = None) -> None:
        c = settings.cluster
        self.settings = settings
        self.lease_settings = lease_settings(settings)
        accounts = node_settings(settings)
        check_node(settings, accounts)
        check_timing(self.lease_settings, accounts)
        check_node_keys(settings, accounts, environ)
        self.node_id = c.node_id or new_node_id()
        url = database_url(settings)
        network_s = self.lease_settings.ttl_s / 3  # a hung call is bounded (2x this)
        self.store = LeaseStore(open_database(url, network_timeout_s=network_s),
                                self.lease_settings)
        self.registry = ClusterRegistry(open_database(url, network_timeout_s=network_s),
                                        version=wiring.running_version(settings),
                                        configured=[a.bot.account for a in accounts],
                                        claim_ttl_ms=self.lease_settings.ttl_ms
                                        if c.node_id else None)
        try:
            self.store.create_table()
            self.registry.create_tables()
        except LeaseStoreUnavailable as exc:
            raise StartupError(f"{database_key(settings)}: {exc}") from None
        if c.node_id:
            _claim(self.registry, c.node_id, self.lease_settings.ttl_ms, database_key(settings))
        self.node = ClusterNode(
            node_id=self.node_id, accounts=[a.bot.account for a in accounts],
            store=self.store, registry=self.registry, settings=self.lease_settings,
            start_account=NodeAccounts(settings, accounts, data_dir, url), logger=logger,
            announce=self._announce, balance_interval_s=c.balance_interval_s,
            alert=self._alert)
        self._view: dict[str, Any] = {}
        self._view_lock = threading.Lock()
        self._view_stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._refresh_view, name="cluster-view", daemon=True).start()
        logger.info("cluster node {} starting: pid {} accounts {} lease ttl {}s, takeover "
                    "after expiry + {}s", self.node_id, os.getpid(),
                    ",".join(self.node.accounts), self.lease_settings.ttl_s,
                    self.lease_settings.request_timeout_s)
        try:
            self.node.start()  # its first heartbeat, on the thread that started the node
        except LeaseStoreUnavailable as exc:  # one line naming the key, as at the checks
            raise StartupError(f"{database_key(self.settings)}: {exc}") from None
        except NodeIdInUse as exc:  # a twin started at once beat first (storage/
            raise StartupError(str(exc)) from None  # cluster_registry.py `claim_ttl_ms`)

    def stop(self) -> None:
        self._view_stop.set()
        for runtime in self.accounts():  # no actor restarts while the accounts stop one by one
            if runtime.sup is not None:
                runtime.sup.stopping()
        self.node.stop()
        logger.info("cluster node {} stopped", self.node_id)

    def accounts(self) -> list[AccountRuntime]:
        return [h.runtime for h in self.node.handles() if isinstance(h, NodeAccount)]

    def status(self) -> dict[str, Any]:
        """The `cluster` block of the status dump: the cluster as last read from the database
        (read on its own thread, so a database that hangs never stalls the dump) and this
        node's own accounts, always current."""
        with self._view_lock:
            view = dict(self._view)
        held = self.node.held()
        view["this_node"] = {
            "node": self.node_id,
            "accounts": {a: {"epoch": h.lease.epoch, "since": h.started_at}
                         for a, h in sorted(held.items())}}
        return view

    def _refresh_view(self) -> None:
        interval = self.settings.bot.status_interval_s
        while not self._view_stop.wait(interval):
            view = view_or_error(self.store, self.registry, self.lease_settings)
            with self._view_lock:
                self._view = view

    def _alert(self, account: str, kind: str, message: str) -> None:
        """An alert through the account's hooks (ClusterNode: a lease lost under it)."""
        runtime = next((r for r in self.accounts() if r.name == account), None)
        alert_account(runtime, self.node_id, kind, message)

    def _announce(self, account: str, message: str, data: dict[str, Any]) -> bool:
        """Journal the takeover in the account's own journal and alert through its alerts
        (announce_takeover). False when the account no longer runs here (stopped again, its
        journal closed): the node then records the takeover nowhere (cluster/node_types.py
        Announce)."""
        runtime = next((r for r in self.accounts() if r.name == account), None)
        return announce_takeover(runtime, self.node_id, message, data)


def alert_account(runtime: AccountRuntime | None, node_id: str, kind: str, message: str) -> None:
    """NodeRun._alert for the account's runtime: through its alert hooks while it runs here,
    else one ERROR line."""
    if runtime is not None and runtime.alerts is not None:
        runtime.alerts.alert(None, kind, message, node=node_id)
    else:
        logger.error("ALERT {}: {}", kind, message)


def announce_takeover(runtime: AccountRuntime | None, node_id: str, message: str,
                      data: dict[str, Any]) -> bool:
    """NodeRun._announce for the account's runtime. A journal commit that fails (the database
    drops the connection, the commit times out) is still alerted, saying it was not journaled,
    and raised for the node's one line (cluster/node_ready.py); found by review: it was logged
    only, so nobody was told the node had taken the account over."""
    if runtime is None or runtime.repo is None:
        return False
    try:
        runtime.repo.record(ACCOUNT_SUBJECT, "ClusterTakeover",
                            {"node": node_id, "at": time.time(), **data},
                            correlation_id=f"takeover-{data.get('epoch')}")
    except (WriterStopped, LeaseLost):
        return False  # closed, or fenced: this node may no longer commit for it
    except Exception as exc:
        if runtime.alerts is not None:
            runtime.alerts.alert(None, "cluster_takeover",
                                 f"{message} (not journaled: {describe(exc)})",
                                 node=node_id, **data)
        raise
    if runtime.alerts is not None:
        runtime.alerts.alert(None, "cluster_takeover", message, node=node_id, **data)
    return True


def run_node(bot: Any, duration_s: float | None) -> int:
    """runtime.runner.Bot.run for a cluster node: the data dir's lock (one node per data dir),
    logging, the node, the status/controls loop, a graceful stop that releases the leases."""
    from observability.log_streams import setup_logging
    from supervision.instance_lock import InstanceLock

    s, data_dir = bot.settings, bot.data_dir
    problems = make_node_private(s, data_dir)
    lock = InstanceLock(data_dir / "bot.lock")
    lock.acquire()  # AlreadyRunning propagates: one clear line, exit code 3
    try:
        run = NodeRun(s, data_dir)  # a refusal is one line, before logging starts
    except BaseException:
        lock.release()
        raise
    streams = setup_logging(data_dir / "logs", level=s.logging.level, console=s.logging.console,
                            rotate_bytes=s.logging.rotate_bytes, retention=s.logging.retention,
                            max_total_bytes=s.logging.max_total_bytes)
    try:
        for problem in problems:
            logger.warning("{}", problem)
        if unserved := unserved_services(s):
            logger.warning("cluster node: {} enabled in the config but not served on a cluster "
                           "node (README, Cluster): its alerts reach the log and the alert "
                           "hooks (supervision.alert_command, alert_webhook) only", unserved)
        bot.cluster_status = run.status
        bot._install_signal_handlers(logger)
        run.start()
        _serve(bot, run, duration_s)
    finally:
        logger.info("stopping: every account of this node stops, leases are released")
        run.stop()
        bot.accounts = []
        bot._write_status(running=False)
        logger.info("bot stopped")
        streams.close()
        lock.release()
    return 0


def unserved_services(s: Settings) -> str:
    """The services the config turns on that a cluster node does not start, as the config keys
    ("" for none; the dashboard only when the file sets it: it is on by default). Found by
    review: they were left out without a word, so a node configured with Telegram ran with
    its escalations and takeovers never reaching a chat, unsaid."""
    dashboard = s.dashboard.enabled and "enabled" in s.dashboard.model_fields_set
    return ", ".join(key for key, on in (("telegram.enabled", s.telegram.enabled),
                                         ("signals.enabled", s.signals.enabled),
                                         ("dashboard.enabled", dashboard)) if on)


def _serve(bot: Any, run: NodeRun, duration_s: float | None) -> None:
    deadline = None if duration_s is None else time.monotonic() + duration_s
    while not bot.stop_event.is_set():
        bot.accounts = run.accounts()
        tick_protections(bot.accounts)
        bot._write_status(running=True)
        bot._apply_controls(logger)
        if deadline is not None and time.monotonic() >= deadline:
            logger.info("duration reached; stopping")
            return
        wait = bot.settings.bot.status_interval_s
        if deadline is not None:
            wait = max(min(wait, deadline - time.monotonic()), 0.0)
        bot.stop_event.wait(wait)


def tick_protections(accounts: list[Any]) -> None:
    """Each account's protections pass (ledger feed, trips, blocks), as a single bot's run loop
    does it (dashboard/wiring.py `OperatorServices.tick`): without it a node's daily loss limit,
    drawdown and stop-loss guard never tripped (found by review). Through the account's round
    gate (runtime/round_gate.py), as its status and controls: an account the node is stopping
    is not ticked (found by review: its stop's `guard.catch_up` read the same new ledger rows on
    the node thread, and both passes could apply them, counting those fills twice)."""
    for runtime in accounts:
        if runtime.guard is None:  # not built yet
            continue
        try:
            with runtime.round.step():
                runtime.guard.tick()
        except AccountLeft:
            continue  # stopping: its stop brings the totals up to date itself
        except Exception as exc:  # noqa: BLE001 - one account's trouble never stops the others
            logger.error("protections of account {} failed: {}", runtime.name, describe(exc))


def show_cluster(settings: Settings, as_json: bool) -> int:
    """`bot.py cluster`: the cluster as the database has it (any machine with the config)."""
    import json

    from cluster.view import render

    if not (settings.cluster.enabled or settings.cluster.database_url):
        raise StartupError(
            "cluster: this config runs no cluster ([cluster] enabled = false, no "
            "cluster.database_url); give `bot.py cluster` the config the nodes run with "
            "(--config PATH), or set cluster.database_url to the leases' database")
    lease = lease_settings(settings)
    try:
        store = LeaseStore(open_database(database_url(settings)), lease)
        if not store.exists():  # a read: found by review, it created the cluster's tables in
            # whatever database the config named (a mistyped one too)
            raise StartupError(
                f"{database_key(settings)}: this database has no cluster tables (no node has run "
                "against it): nothing to show, and nothing was created in it; check the URL")
        registry = ClusterRegistry(store.db)
        registry.read_as_it_is()  # never create_tables: a look changes nothing
        view = cluster_view(store, registry, lease)
    except LeaseStoreUnavailable as exc:
        raise StartupError(f"{database_key(settings)}: {exc}") from None
    print(json.dumps(view, indent=2, default=str) if as_json else render(view))
    return 0
