"""`python bot.py run`: start everything, run until a signal or --duration, stop gracefully."""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from cluster.lease import LeaseLost
from config.secrets import secret_env_names
from config.settings import Settings
from exchange.fence import CallScope, call_scope
from observability.log_format import say
from observability.log_streams import setup_logging
from runtime import interpreter, shutdown, wiring
from runtime.account import AccountRuntime
from runtime.bot_locks import account_lock_path, schema_locks, shared_files
from runtime.exchanges import account_keys, check_shared_feeds, feed_sharers
from runtime.private_files import make_files_private, make_private
from runtime.round_gate import AccountLeft
from runtime.status_writer import StatusWriter
from runtime.stop_accounts import STOP_ALL_TIMEOUT_S, close_all, stop_all
from runtime.workers_role import ProcessRole, open_beat, watch_parent
from storage.opening import account_schema
from storage.pg_lock import SchemaLock
from supervision.instance_lock import FileLock, InstanceLock
from supervision.status import combine_status

_BOT_ALERTS = itertools.count(1)
"""Numbers each bot-wide alert: every account hears it, a bot-wide channel says it once."""
EXIT_LOCK_LOST = 3
"""bot.py's exit code for an account another bot holds (runtime/cli.py EXIT_LOCKED): the bot
stopped because its schema lock was taken over."""


def data_dir_problem(data_dir: Path) -> str | None:
    """One line when the data dir or its logs/ cannot be created or written in (a file in the
    way, permission denied), or the data dir belongs to another user, naming the path; None
    when both are usable."""
    hint = " (bot.data_dir or --data-dir)"
    for path, what in ((data_dir, "data dir"), (data_dir / "logs", "logs dir")):
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            # os.path.exists, not Path.exists: a parent we may not search raises in the latter
            blocker = next((p for p in (path, *path.parents) if os.path.exists(p)), path)
            if blocker == path:
                return f"{what} {path}: is not a directory{hint}"
            if isinstance(exc, (FileExistsError, NotADirectoryError)) or not blocker.is_dir():
                return f"{what} {path}: cannot create it: {blocker} is not a directory{hint}"
            return f"{what} {path}: cannot create it ({(exc.strerror or str(exc)).lower()}){hint}"
        if not os.path.isdir(path):
            return f"{what} {path}: is not a directory{hint}"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{what} {path}: cannot write in it (permission denied){hint}"
    owner, me = os.stat(data_dir).st_uid, os.geteuid()
    if owner != me and me != 0:  # it cannot be made 0700 (found by review: a warning, and the
        # bot traded on in another user's 0777 folder); root makes it so (a container's volume)
        return (f"data dir {data_dir}: belongs to another user (uid {owner}), who could read, "
                f"replace or delete the bot's files: give the bot a folder of its own{hint}")
    return None


class Bot:
    """The composition of one running bot on one data dir: one AccountRuntime per account.
    ``role``: the whole bot (default) or one worker process running some of the accounts
    (runtime/workers.py starts those)."""

    def __init__(self, settings: Settings, data_dir: Path, role: ProcessRole | None = None,
                 account_runtime: Callable[..., AccountRuntime] = AccountRuntime,
                 stop_timeout_s: float = STOP_ALL_TIMEOUT_S) -> None:
        self.settings = settings
        self._stop_timeout_s = stop_timeout_s
        self.still_stopping: list[str] = []
        """Accounts whose stop had not returned after the wait: the locks stay held."""
        self._account_runtime = account_runtime
        self.data_dir = data_dir
        self.role = role or ProcessRole()
        self.stop_event = shutdown.requested
        self.started_at = time.time()
        self.version = wiring.running_version(settings)
        self.accounts: list[AccountRuntime] = []
        self.status_writer = StatusWriter(
            data_dir, logger=logger, alert=self._alert_all, file=self.role.status_file
        )
        self.services: Any = None
        """Dashboard, metrics, Telegram and the protections' tick (dashboard/wiring.py)."""
        self.cluster_status: Any = None
        """Cluster node mode: a callable giving the status dump's `cluster` block."""
        self.lock_lost: str | None = None
        """Why the bot stopped when another process took an account's schema lock."""
        self.schema_locks: dict[str, SchemaLock] = {}
        """Each PostgreSQL-backed account's schema lock, by schema: its fences (`_guards`)."""

    @property
    def views(self) -> dict[str, Any]:
        """The single account's published views (kept for callers of the one-account bot)."""
        return self.accounts[0].views if self.accounts else {}

    def run(self, duration_s: float | None) -> int:
        s = self.settings
        interpreter.apply_switch_interval(s.bot.switch_interval_ms)  # before any thread starts
        if s.cluster.enabled:  # one node of a cluster: accounts come and go with their leases
            from runtime.cluster_node import run_node

            return run_node(self, duration_s)
        private_problems = make_private(self.data_dir) + make_files_private(
            shared_files(s, self.data_dir, self.role))  # an absolute storage.path's too
        locks = self._acquire_locks()
        streams = setup_logging(
            self.data_dir / "logs",
            level=s.logging.level,
            console=s.logging.console,
            rotate_bytes=s.logging.rotate_bytes,
            retention=s.logging.retention,
            max_total_bytes=s.logging.max_total_bytes,
            main_name=self.role.main_log,
        )
        log = logger
        watch_parent(self.role, self.stop_event, log)
        self._keep_schema_locks(locks, log)
        for problem in private_problems:
            log.warning("{}", problem)
        self._install_signal_handlers(log)  # the start's own lines say a stop received then too
        try:
            self._open_or_say(log)
            self._serve(log, duration_s)
        except shutdown.StartStopped as exc:  # rule 4: a stop, exit 0 (the finally closes all)
            # rule 12: no "bot starting" line was written, so this one names the version
            log.info("{} (pid {}, version {})", exc, os.getpid(), self.version)
        finally:
            close_all(self.accounts, log)
            log.info("bot stopped")
            busy = [a.name for a in self.accounts if a.writer_running]
            if busy:  # closing a lock's descriptor drops SQLite's own locks on that file
                log.error("database writer of {} still running: the locks are kept until the "
                          "process exits", ", ".join(busy))
            if self.still_stopping:  # found by review: a second bot could start beside them
                log.error("account {} still stopping (an actor or an emergency close may still "
                          "reach the exchange): the locks are kept until the process exits",
                          ", ".join(self.still_stopping))
                busy += self.still_stopping
            streams.close()
            for lock in reversed(locks if not busy else []):
                lock.release()
        if self.lock_lost is not None:
            say(f"bot.py: error: {self.lock_lost}")
            return EXIT_LOCK_LOST
        return 0

    def _acquire_locks(self) -> list[Any]:
        """The bot's, each account's and every shared file's lock, all taken or none."""
        s = self.settings
        role = self.role
        # a worker's parent holds bot.lock; the worker holds its own accounts' locks
        locks: list[Any] = [] if role.is_worker else [InstanceLock(self.data_dir / "bot.lock")]
        locks += [
            InstanceLock(account_lock_path(self.data_dir, name), subject=f"account {name}")
            for name in s.account_names()
            if role.runs(name)
        ]
        locks += [FileLock(path) for path in shared_files(s, self.data_dir, role)]
        locks += schema_locks(s, role)  # run() sends a cluster node elsewhere before this
        try:
            for lock in locks:
                lock.acquire()  # AlreadyRunning propagates: one clear line, exit code 3
        except BaseException:
            for lock in reversed(locks):
                lock.release()
            raise
        return locks

    def _keep_schema_locks(self, locks: list[Any], log: Any) -> None:
        """A schema lock whose session was cut and that another process took meanwhile: stop."""

        def lost(reason: str) -> None:
            self.lock_lost = reason
            message = f"{reason}; stopping"
            if any(a.alerts is not None for a in self.accounts):
                self._alert_all("account_lock_lost", message)
            else:
                log.error("{}", message)
            self.stop_event.set()

        for lock in locks:
            if isinstance(lock, SchemaLock):
                self.schema_locks[lock.schema] = lock
                lock.keep(lost)

    def _guards(self, account: str) -> dict[str, Any]:
        """A PostgreSQL-backed account's schema lock fences its commits and exchange requests
        (storage/pg_lock.py `check_in`, `check`), as a cluster node's lease fences its own:
        found by review, a bot whose lock session was cut, and the lock taken by a second bot,
        still committed and sent for the account until it noticed and its actors stopped."""
        lock = self.schema_locks.get(account_schema(account))
        if lock is None:
            return {}
        return {"commit_guard": lock.check_in, "exchange_guard": lock.check}

    def _open_or_say(self, log: Any) -> None:
        """`_open_accounts`, and a start it refuses said in the log too: the command line says
        why on stderr, and the log said only "bot stopped", with no start before it (found by
        a README audit: a data dir of another venue, refused)."""
        try:
            self._open_accounts(log)
        except shutdown.StartStopped:
            raise
        except Exception as exc:
            log.error("start refused: {}", exc)
            raise

    def _open_accounts(self, log: Any) -> None:
        """Build and open every account's runtime, then log the start line."""
        s = self.settings
        mine = [(i, a) for i, a in enumerate(s.account_settings()) if self.role.runs(a.bot.account)]
        # they pay one budget
        check_shared_feeds([self.role.budgeted(a) for _, a in mine], account_keys(s),
                           warn=log.warning)
        sharers = feed_sharers([a for _, a in mine])
        self.accounts = [
            self._account_runtime(
                self.role.budgeted(a),
                self.data_dir,
                logger=logger,
                tagged=s.has_accounts,
                config_key=f"accounts[{i}]." if s.has_accounts else "",
                feed_sharers=sharers.get(a.bot.account, 1),
                secret_env=secret_env_names(s),
                **self._guards(a.bot.account),
            )
            for i, a in mine
        ]
        for account in self.accounts:  # a stop request ends the start after the call in flight
            fence = shutdown.StartFence(account.name)
            fence.check()
            with call_scope(CallScope(fence=fence)):
                account.open()
        symbols = sum(len(a.symbols) for a in self.accounts)
        # the configured venue (a dry run's fills are the paper exchange's, its prices the venue's)
        exchanges = ",".join(sorted({a.settings.exchange.id for a in self.accounts}))
        if s.has_accounts:
            log.info("bot starting: pid {} mode {} accounts {} exchange {} version {} symbols {}",
                     os.getpid(), s.bot.mode, ",".join(a.name for a in self.accounts), exchanges,
                     self.version, symbols)
        else:
            log.info("bot starting: pid {} mode {} exchange {} version {} symbols {}",
                     os.getpid(), s.bot.mode, exchanges, self.version, symbols)

        for name, split in self.role.budget_split:
            if split > 1:
                log.info("rate budget: account {} shares its venue with {} worker processes "
                         "(each takes 1/{} of exchange.rate_budget_share)", name, split, split)

    def _serve(self, log: Any, duration_s: float | None) -> None:
        s = self.settings
        for account in self.accounts:
            account.build()
        from dashboard.wiring import OperatorServices  # deferred: aiohttp, prometheus_client

        services = self.services = OperatorServices(
            settings=_worker_settings(s) if self.role.is_worker else s,
            data_dir=self.data_dir,
            accounts=self.accounts,
            logger=logger,
        )
        receiver = self._signal_receiver()
        self.gc_freezer = interpreter.GcFreezer(log)
        try:  # a start failing half-way still stops the accounts already started (rule 4)
            for account in self.accounts:
                account.start()
            services.start()
            # served at once: a signal for a running symbol is delivered, one for a symbol
            # still starting waits for it (signals/router.py). Found in session 49: it started
            # once EVERY actor ran (or after 30 s), so one symbol's start held all the signals
            if receiver is not None:
                receiver.start()
            self.gc_freezer.started()  # no stop-the-world full collections (interpreter.py)
            self._loop(log, services, duration_s)
        finally:
            log.info("stopping: no new entries, letting each actor finish its current message")
            for account in self.accounts:  # from now on no actor is restarted (a frozen and
                if account.sup is not None:  # resumed worker saw every heartbeat overdue)
                    account.sup.stopping()
            try:
                services.stop_dashboard()
            except Exception as exc:  # noqa: BLE001 - (a part never started) the accounts still stop
                log.opt(exception=exc).error("dashboard did not stop cleanly: {}", exc)
            if receiver is not None and receiver.started and not receiver.stop(timeout_s=5):
                log.warning("signal receiver did not stop within 5 s")
            self.still_stopping = stop_all(self.accounts, log, self._stop_timeout_s)
            self._write_status(running=False)
            try:
                services.stop_telegram()  # after the accounts: their last alerts are sent
            except Exception as exc:  # noqa: BLE001 - a sender never started: nothing to send
                log.opt(exception=exc).error("telegram did not stop cleanly: {}", exc)
            pykka.ActorRegistry.stop_all(block=False)
            self.gc_freezer.stopped()

    def _loop(self, log: Any, services: Any, duration_s: float | None) -> None:
        """Every bot.status_interval_s: protections, status, queued controls, the parent's
        beat."""
        deadline = None if duration_s is None else time.monotonic() + duration_s
        beat = open_beat(self.role)
        next_round = time.monotonic()
        while not self.stop_event.is_set():
            if time.monotonic() >= next_round:
                services.tick()
                self._write_status(running=True)
                self._apply_controls(log)
                beat()  # a worker's parent: started, and this loop still turns
                self.gc_freezer.tick()
                next_round = time.monotonic() + self.settings.bot.status_interval_s
            if deadline is not None and time.monotonic() >= deadline:
                log.info("duration reached; stopping")
                return
            wait = next_round - time.monotonic()
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
            self.stop_event.wait(max(wait, 0.0))

    def _signal_receiver(self) -> Any:
        s = self.settings
        if not s.signals.enabled or self.role.is_worker:
            return None
        from signals.wiring import SignalsConfig, build_account_signal_services

        return build_account_signal_services(
            SignalsConfig.from_mapping(s.signals.model_dump()),
            accounts=[a.signal_account() for a in self.accounts],
            logger=logger,
        )

    def _install_signal_handlers(self, log: Any) -> None:
        shutdown.install()  # idempotent; bot.py installed it before the imports

        def announce() -> None:
            self.stop_event.wait()
            log.info(
                "received {}; stopping gracefully", ", ".join(shutdown.received) or "stop request"
            )

        threading.Thread(target=announce, name="stop-announcer", daemon=True).start()

    def _write_status(self, *, running: bool) -> None:
        s = self.settings
        bot: dict[str, Any] = {
            "pid": os.getpid(),
            "running": running,
            "mode": s.bot.mode,
            "version": self.version,
            "started_at": self.started_at,
            "switch_interval_ms": interpreter.switch_interval_ms(),
            "exchange": ",".join(dict.fromkeys(a.settings.exchange.id for a in self.accounts)),
        }
        if self.services is not None and self.services.dashboard is not None:
            bot["dashboard"] = self.services.dashboard.url
        if self.role.is_worker:
            bot["worker"] = self.role.worker
        if s.has_accounts:
            bot["accounts"] = [a.name for a in self.accounts]
        else:
            bot["account"] = s.bot.account
        now = time.time()
        per_account = {}
        for account in self.accounts:
            try:
                per_account[account.name] = account.status(bot, now)
            except AccountLeft:
                continue  # stopping since this round took the list (a node handed it over)
            except Exception as exc:  # noqa: BLE001 - one account's trouble never hides the others
                logger.opt(exception=exc).error(
                    "status of account {} failed: {}", account.name, exc
                )
        status = combine_status(bot, per_account, now, grouped=s.has_accounts)
        if self.cluster_status is not None:
            status["cluster"] = self.cluster_status()
        self.status_writer.write(status)

    def _alert_all(self, kind: str, message: str, **data: Any) -> None:
        """A bot-wide fault (not one account's): every account's alert hooks hear of it, with
        one ``bot_alert`` number, so a channel of the whole bot (Telegram) sends it once."""
        data = {**data, "bot_alert": next(_BOT_ALERTS)}
        for account in self.accounts:
            if account.alerts is not None:
                account.alerts.alert(None, kind, message, **data)

    def _apply_controls(self, log: Any) -> None:
        for account in self.accounts:
            try:
                account.apply_controls()
            except AccountLeft:
                continue  # as in _write_status; its controls stay queued for the next owner
            except LeaseLost as exc:  # the node stops it soon: a traceback would say no more
                log.warning("controls of account {} not applied on this node: {}; they stay "
                            "queued for the node holding its lease", account.name, exc)
            except Exception as exc:  # noqa: BLE001 - one account's trouble never stops the others
                log.opt(exception=exc).error("controls of account {} failed: {}", account.name, exc)


def _worker_settings(settings: Settings) -> Settings:
    """A worker serves no dashboard and polls no Telegram: one port or one bot token cannot be
    shared by N processes (the parent says so at start); protections still tick per account."""
    return settings.model_copy(
        update={
            "dashboard": settings.dashboard.model_copy(update={"enabled": False}),
            "telegram": settings.telegram.model_copy(update={"enabled": False}),
        }
    )
