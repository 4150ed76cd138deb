"""`python bot.py run --workers N`: one parent process, N worker processes, accounts spread over
them (each account wholly inside one worker: rate limits, margin and position mode are per
account).

The parent holds the data dir's instance lock, writes `logs/bot.log` and the merged
`status.json`, and restarts a worker that dies with the actors' intensity/backoff rules
(`[supervision]` max_restarts / restart_period_s / backoff_*); a restarted worker is a cold start
of its accounts (restore from storage, reconcile with the exchange). A worker whose run loop sends
no heartbeat for a while is hung: the parent alerts once and stops it, and the same restart
follows. Past the intensity the parent alerts, stops every worker and exits 1. SIGTERM/SIGINT to
the parent: SIGTERM to every worker (each stops gracefully as the one-process bot does), then
exit 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

from config.secrets import secret_env_names
from config.settings import Settings
from observability.log_format import say
from observability.log_streams import setup_logging
from runtime import shutdown, wiring
from runtime.exchanges import check_split_budgets
from runtime.private_files import make_private
from runtime.status_writer import StatusWriter
from runtime.stop_accounts import STOP_ALL_TIMEOUT_S
from runtime.workers_reap import stop_hung, stop_workers
from runtime.workers_role import (
    BEAT_FD_ENV,
    account_venue,
    venue_split,
    worker_log_name,
)
from runtime.workers_status import Worker, merge_status, stale_after
from storage.atomic_file import atomic_write_bytes, remove_leftover_temps
from supervision.alerts import Alerts
from supervision.hook_outbox import open_hook_outbox
from supervision.instance_lock import InstanceLock
from supervision.restart_policy import RestartPolicy, Verdict

EXIT_WORKERS_FAILED = 1
EXIT_STARTUP = 2
FATAL_EXITS = {EXIT_STARTUP: "startup error", 3: "an account is locked by another bot"}
"""Worker exit codes a restart cannot cure (bot.py's codes): the parent stops at once. bot.py
exits 2 for an unexpected exception too, so 2 is fatal only until the worker's first heartbeat
(from this or an earlier process): after that it had started, and its exit is a crash, restarted
like any other within the intensity."""
HUNG_MIN_S = 30.0
HUNG_INTERVALS = 5
"""A worker with no heartbeat for max(HUNG_MIN_S, HUNG_INTERVALS x bot.status_interval_s) is
hung (the floor leaves room for a run loop held up by storage calls timing out)."""
HUNG_STOP_GRACE_S = 10.0
"""How long a hung worker gets between SIGTERM and SIGKILL."""
POLL_S = 0.1
FROZEN_GAP_S = 5.0
"""A supervision round this much later than the last one: the parent stood still (Ctrl-Z and
`fg`, SIGSTOP, `docker pause`), so it could not read any beat meanwhile; that time does not
count towards a worker's hang (its workers, frozen with it, beat again once resumed)."""
STOP_EXTRA_S = 45.0
"""How long a worker gets to stop gracefully before the parent kills it: more than it gives
itself, its accounts' stop (STOP_ALL_TIMEOUT_S) then, by this much, their writers' close (30 s)
and its last lines, so a stuck account is named and what is queued committed before any
SIGKILL."""
ROOT = Path(__file__).resolve().parents[1]
CONFIG_COPY = "workers-config.toml"
"""In the data dir: the config the parent started with, which every worker reads."""


def plan_workers(accounts: tuple[str, ...], workers: int) -> list[tuple[str, ...]]:
    """Accounts dealt round-robin over ``workers`` (already clamped to the number of accounts)."""
    return [tuple(accounts[i::workers]) for i in range(workers)]


def account_hooks(settings: Settings) -> list[tuple[str, str]]:
    """The accounts' (alert_command, alert_webhook) pairs, each once, other than the top-level
    [supervision]'s and none without a hook (the top-level's say the parent's every alert)."""
    top = (settings.supervision.alert_command, settings.supervision.alert_webhook)
    pairs = dict.fromkeys((a.supervision.alert_command, a.supervision.alert_webhook)
                          for a in settings.account_settings())
    return [pair for pair in pairs if pair != top and any(pair)]


class WorkerParent:
    def __init__(
        self, settings: Settings, data_dir: Path, *, workers: int, config: Path,
        popen: Callable[..., subprocess.Popen[bytes]] = subprocess.Popen,
        accounts_stop_s: float = STOP_ALL_TIMEOUT_S, stop_event: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.stop_timeout_s = accounts_stop_s + STOP_EXTRA_S
        self.popen = popen
        """Starts a worker process (tests inject one that fails like a refused fork)."""
        self.data_dir = data_dir
        self.config = Path(config).resolve()
        self.config_text = self.config.read_bytes()
        """The config as loaded into `settings`: what every worker runs, whenever it starts
        (a restart after the file was edited too), so no process runs other settings."""
        self.requested = workers
        self.stop_event = shutdown.requested if stop_event is None else stop_event
        """Set: stop every worker gracefully (SIGTERM/SIGINT; tests inject their own)."""
        self.started_at = time.time()
        self.version = wiring.running_version(settings)
        sv = settings.supervision
        self.policy = RestartPolicy(
            max_restarts=sv.max_restarts,
            period_s=sv.restart_period_s,
            backoff_initial_s=sv.backoff_initial_s,
            backoff_max_s=sv.backoff_max_s,
            stable_after_s=sv.stable_after_s,
        )
        self.alerts = Alerts(logger=logger, command=sv.alert_command, webhook=sv.alert_webhook,
                             secret_env=secret_env_names(settings))
        self.account_hooks = [
            Alerts(logger=logger, command=command, webhook=webhook,
                   secret_env=secret_env_names(settings))
            for command, webhook in account_hooks(settings)]
        """The accounts' own hooks (other than the top-level ones): a fault of the whole bot
        reaches every account's hooks, as the one-process bot's does (`Bot._alert_all`)."""
        self.status_writer = StatusWriter(data_dir, logger=logger, alert=self._alert)
        self.workers: list[Worker] = []
        self.hung_after_s = max(HUNG_MIN_S, HUNG_INTERVALS * settings.bot.status_interval_s)
        self.start_timeout_s = sv.worker_start_timeout_s
        self.failure: str | None = None
        self.split: dict[str, int] = {}
        """Account -> worker processes sharing its venue's budget (`venue_split`)."""
        self.dashboard: Any = None
        """The accounts' dashboard, served here (dashboard/parent.py), when enabled."""

    def run(self, duration_s: float | None) -> int:
        s = self.settings
        problems = make_private(self.data_dir)
        lock = InstanceLock(self.data_dir / "bot.lock")
        lock.acquire()  # AlreadyRunning propagates: one clear line, exit code 3
        streams = setup_logging(
            self.data_dir / "logs",
            level=s.logging.level,
            console=s.logging.console,
            rotate_bytes=s.logging.rotate_bytes,
            retention=s.logging.retention,
            max_total_bytes=s.logging.max_total_bytes,
        )
        for problem in problems:
            logger.warning("{}", problem)
        try:
            remove_leftover_temps(self.data_dir / CONFIG_COPY)  # a killed parent's write left
            atomic_write_bytes(self.data_dir / CONFIG_COPY, self.config_text)
            for i, alerts in enumerate((self.alerts, *self.account_hooks)):  # under the lock
                alerts.outbox = open_hook_outbox(self.data_dir, f"(parent) {i}", logger,
                                                 bool(alerts.command or alerts.webhook))
                alerts.resend_left()  # what a killed parent's hooks had not delivered
            self._plan()
            self._announce()
            self._serve_dashboard()
            for worker in self.workers:
                if self.stop_event.is_set():  # a stop asked while starting: none forked after
                    break
                self._start(worker, time.monotonic())
            self._supervise(duration_s)
        finally:
            if self.dashboard is not None:
                self.dashboard.stop()
            self._stop_all()
            self._write_status(running=False)
            for alerts in (self.alerts, *self.account_hooks):
                alerts.wait()  # hooks run on daemon threads: delivered before the exit
            logger.info("bot stopped")
            streams.close()
            lock.release()
        if self.failure is not None:
            say(f"bot.py: error: {self.failure}")
            return EXIT_WORKERS_FAILED
        return 0

    def _plan(self) -> None:
        names = self.settings.account_names()
        count = self.requested
        if count > len(names):
            logger.warning("--workers {}: only {} account(s) configured, running {} worker(s)",
                           count, len(names), len(names))
            count = len(names)
        plan = plan_workers(names, count)
        self.workers = [Worker(index=i + 1, accounts=accounts) for i, accounts in enumerate(plan)]
        # a paper account pays no venue's budget (whatever its exchange.id): a "venue" its own
        venues = {a.bot.account: ("paper", a.bot.account) if a.bot.mode == "paper"
                  else account_venue(a) for a in self.settings.account_settings()}
        self.split = venue_split(venues, plan)
        check_split_budgets(self.settings, [(w.index, w.accounts) for w in self.workers],
                            self.split)

    def _announce(self) -> None:
        s = self.settings
        logger.info(
            "bot starting: pid {} mode {} workers {} ({}) version {}",
            os.getpid(),
            s.bot.mode,
            len(self.workers),
            "; ".join(f"{w.index}: {','.join(w.accounts)}" for w in self.workers),
            self.version,
        )
        off = [
            name
            for name, on in (
                ("telegram", s.telegram.enabled),
                ("signal endpoint", s.signals.enabled),
            )
            if on
        ]
        if off:
            logger.warning(
                "--workers: {} not served with worker processes (one port or bot token cannot "
                "be shared by N processes); the commands `bot.py status`, `logs`, `signal` and "
                "`resume` work as usual",
                ", ".join(off),
            )

    def _serve_dashboard(self) -> None:
        """One dashboard for every account, here: it reads status.json and the accounts'
        databases and writes control rows, which the workers apply (dashboard/parent.py)."""
        if not self.settings.dashboard.enabled:
            return
        from dashboard.parent import ParentDashboard  # deferred: aiohttp, prometheus_client

        self.dashboard = ParentDashboard(settings=self.settings, data_dir=self.data_dir,
                                         logger=logger)
        self.dashboard.start()

    def _command(self, worker: Worker) -> list[str]:
        return [
            sys.executable,
            str(ROOT / "bot.py"),
            "worker",
            "--config",
            str(self.config),
            "--config-copy",
            str(self.data_dir / CONFIG_COPY),
            "--data-dir",
            str(self.data_dir),
            "--index",
            str(worker.index),
            "--accounts",
            ",".join(worker.accounts),
            "--parent-pid",
            str(os.getpid()),
            "--budget-split",
            ",".join(f"{a}={self.split.get(a, 1)}" for a in worker.accounts),
        ]

    def _spawn(self, worker: Worker) -> None:
        # stdout/stderr inherited: a worker's one-line startup error reaches the user's terminal;
        # the working directory too, as a one-process bot's (a relative alert_command program)
        read, write = os.pipe()  # the worker's heartbeat (workers_role.open_beat)
        os.set_blocking(read, False)
        env = {**os.environ, BEAT_FD_ENV: str(write)}
        try:
            worker.proc = self.popen(self._command(worker), env=env, pass_fds=(write,))
        except BaseException:
            os.close(read)
            raise
        finally:
            os.close(write)
        worker.close_beats()
        worker.beat_fd, worker.beat_at, worker.stop_at = read, None, None
        worker.killed_at, worker.unreaped_told = None, False
        worker.started_at = time.time()
        worker.spawned_mono = time.monotonic()
        worker.restart_at = None
        logger.info(
            "worker {} started: pid {} accounts {}",
            worker.index,
            worker.pid,
            ",".join(worker.accounts),
        )

    def _supervise(self, duration_s: float | None) -> None:
        deadline = None if duration_s is None else time.monotonic() + duration_s
        next_status = 0.0
        last = time.monotonic()
        while not self.stop_event.is_set() and self.failure is None:
            now = time.monotonic()
            if now - last > FROZEN_GAP_S:
                logger.warning("the parent stood still for {:.1f} s (stopped or frozen); that "
                               "time does not count as the workers' silence", now - last)
                for worker in self.workers:
                    worker.not_counting(now - last)
            last = now
            for worker in self.workers:
                self._check(worker, now)
            if now >= next_status:
                self._write_status(running=True)
                next_status = now + self.settings.bot.status_interval_s
            if deadline is not None and now >= deadline:
                logger.info("duration reached; stopping")
                return
            self.stop_event.wait(POLL_S)
        if self.stop_event.is_set():
            logger.info(
                "received {}; stopping every worker gracefully",
                ", ".join(shutdown.received) or "stop request",
            )

    def _check(self, worker: Worker, now: float) -> None:
        if worker.restart_at is not None:
            if now >= worker.restart_at:
                worker.restarts += 1
                self._start(worker, now)
            return
        if worker.proc is None:
            return
        worker.read_beats(now)
        if worker.alive():
            self._check_hung(worker, now)
        else:
            self._exited(worker, now)

    def _start(self, worker: Worker, now: float) -> None:
        """Spawn the worker; one the system refuses (fork: memory, process limit) is one of its
        failures, tried again after the backoff like an exit, never the other workers' end."""
        try:
            self._spawn(worker)
        except OSError as exc:
            worker.restart_at = None
            verdict = self._failed(worker, now, "failed", f"last: could not be started: {exc}")
            if verdict.escalate:
                return
            logger.error("worker {} (accounts {}) could not be started: {}; trying again in "
                         "{:.2f} s", worker.index, ",".join(worker.accounts), exc, verdict.delay_s)
            worker.restart_at = now + verdict.delay_s

    def _exited(self, worker: Worker, now: float) -> None:
        assert worker.proc is not None
        worker.read_beats(now)  # a heartbeat sent just before the exit still says "started"
        worker.close_beats()
        code = worker.proc.returncode
        worker.last_exit = code
        stopped_hung = worker.stop_at is not None  # its exit is ours, whatever the code
        if code in FATAL_EXITS and not (code == EXIT_STARTUP and worker.ready) and not stopped_hung:
            self.failure = f"worker {worker.index} exited with code {code} ({FATAL_EXITS[code]})"
            worker.given_up = True
            # the whole bot stops, maybe unattended (a restart): told as past the intensity
            self._alert("worker_escalation", f"{self.failure}; stopping every worker",
                        worker=worker.index)
            return
        what = (f"exited with code {code}" if code is not None  # None: stop_hung gave up on it
                else "was killed and never reaped; given up on")
        verdict = self._failed(worker, now, "died", f"last exit code {code}" if code is not None
                               else "last: killed, never reaped")
        if verdict.escalate:
            return
        logger.error(
            "worker {} (pid {}, accounts {}) {} (why: logs/{}); restarting "
            "in {:.2f} s ({} restart(s) in the last {:g} s)",
            worker.index,
            worker.pid,
            ",".join(worker.accounts),
            what,
            worker_log_name(worker.index),
            verdict.delay_s,
            verdict.restarts_in_period,
            self.policy.period_s,
        )
        worker.restart_at = now + verdict.delay_s

    def _failed(self, worker: Worker, now: float, how: str, last: str) -> Verdict:
        """A failure (an exit, a refused start; `now` monotonic): its verdict and its alert."""
        verdict, told = worker.on_failure(self.policy, now, how, last)
        if verdict.escalate:
            self.failure, worker.given_up = told, True
            self._alert("worker_escalation", told, worker=worker.index)
        elif verdict.crash_loop:
            self._alert("crash_loop", told, worker=worker.index)
        return verdict

    def _check_hung(self, worker: Worker, now: float) -> None:
        """A worker silent for `hung_after_s`: one alert, SIGTERM, SIGKILL after a grace; its
        exit then takes the restart path."""
        assert worker.proc is not None
        if worker.stop_at is not None:  # told to stop: SIGKILL after the grace; never reaped?
            if stop_hung(worker, now, HUNG_STOP_GRACE_S, self.settings, self.data_dir):
                self._exited(worker, now)  # the exit path, the old process abandoned
            return
        age = worker.beat_age(now)
        if age is None:  # still starting: hung once past the start timeout
            assert worker.spawned_mono is not None
            since = now - worker.spawned_mono
            if since < self.start_timeout_s:
                return
            what = (f"has not finished starting {since:.1f} s after its start "
                    f"(supervision.worker_start_timeout_s = {self.start_timeout_s:g})")
        elif age < self.hung_after_s:
            return  # alive
        else:
            what = f"sent no heartbeat for {age:.1f} s"
        self._alert(
            "worker_hung",
            f"worker {worker.index} (pid {worker.pid}, accounts {','.join(worker.accounts)}) "
            f"{what}: hung; stopping it for a restart (SIGTERM, SIGKILL after "
            f"{HUNG_STOP_GRACE_S:g} s)",
            worker=worker.index,
        )
        worker.proc.send_signal(signal.SIGTERM)
        worker.proc.send_signal(signal.SIGCONT)  # a stopped process acts on SIGTERM once continued
        worker.stop_at = now + HUNG_STOP_GRACE_S

    def _stop_all(self) -> None:
        stop_workers(self.workers, self.stop_timeout_s)

    def _alert(self, kind: str, message: str, **data: Any) -> None:
        """A fault of the whole bot (no account): the log line and the configured hooks."""
        self.alerts.alert(None, kind, message, **data)
        for alerts in self.account_hooks:
            alerts.alert(None, kind, message, **data)

    def _write_status(self, *, running: bool) -> None:
        s = self.settings
        bot: dict[str, Any] = {
            "pid": os.getpid(),
            "running": running,
            "mode": s.bot.mode,
            "version": self.version,
            "started_at": self.started_at,
            "exchange": ",".join(dict.fromkeys(a.exchange.id for a in s.account_settings())),
            "accounts": list(s.account_names()),
            "workers": [w.info() for w in self.workers],
        }
        if self.failure is not None:  # status shows why the bot stopped (README: Status)
            bot["failure"] = self.failure
        if self.dashboard is not None and self.dashboard.url is not None:
            bot["dashboard"] = self.dashboard.url
        status = merge_status(
            self.data_dir, bot, self.workers, time.time(), grouped=s.has_accounts,
            stale_after_s=stale_after(s.bot.status_interval_s),
        )
        self.status_writer.write(status)
