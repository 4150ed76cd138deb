"""`python bot.py run`: start everything, run until a signal or --duration, stop gracefully."""

from __future__ import annotations

import os
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from actors.market_feed import MarketFeed
from actors.messages import ExternalSignal
from actors.price_slots import PriceSlots
from actors.symbol_actor import ActorDeps, SymbolActor
from config.settings import Settings
from observability.log_streams import setup_logging
from runtime import shutdown, wiring
from runtime.emergency import EmergencyCloser
from runtime.exchanges import build_exchange, fills_poller
from storage import control, queries
from storage.repository import Repository
from supervision.alerts import Alerts
from supervision.instance_lock import InstanceLock
from supervision.restart_policy import RestartPolicy
from supervision.status import build_status, write_status
from supervision.supervisor import Supervisor
from trading.model import Side


class Bot:
    """The composition of one running bot on one data dir."""

    def __init__(self, settings: Settings, data_dir: Path) -> None:
        self.settings = settings
        self.data_dir = data_dir
        self.stop_event = shutdown.requested
        self.started_at = time.time()
        self.version = wiring.running_version(settings)
        self.views: dict[str, Any] = {}

    def run(self, duration_s: float | None) -> int:
        s = self.settings
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = InstanceLock(self.data_dir / "bot.lock")
        lock.acquire()  # AlreadyRunning propagates: one clear line, non-zero exit
        streams = setup_logging(self.data_dir / "logs", level=s.logging.level, console=s.logging.console,
                                rotate_bytes=s.logging.rotate_bytes, retention=s.logging.retention)
        log = logger
        repo = exchange = None
        try:
            repo = Repository(s.resolve(s.storage.path), synchronous=s.storage.synchronous)
            exchange = build_exchange(s, self.data_dir)
            wiring.check_symbols(exchange, list(s.symbols.list))
            log.info("bot starting: pid {} mode {} exchange {} version {} symbols {}", os.getpid(),
                     s.bot.mode, exchange.id, self.version, len(s.symbols.list))
            self._serve(repo, exchange, log, duration_s)
        finally:
            if exchange is not None:
                exchange.close()
            if repo is not None:
                repo.close()
            log.info("bot stopped")
            streams.close()
            lock.release()
        return 0

    def _serve(self, repo: Repository, exchange: Any, log: Any, duration_s: float | None) -> None:
        s = self.settings
        symbols = list(s.symbols.list)
        alerts = Alerts(logger=logger, command=s.supervision.alert_command, webhook=s.supervision.alert_webhook)
        prefix = f"{s.bot.account}-{repo.id_tag}-"
        closer = EmergencyCloser(exchange=exchange, repo=repo, prefix=prefix, logger=logger)
        sup = Supervisor(
            symbols=symbols, start_actor=lambda sym: self._start_actor(sym, deps), repo=repo,
            policy=RestartPolicy(max_restarts=s.supervision.max_restarts, period_s=s.supervision.restart_period_s,
                                 backoff_initial_s=s.supervision.backoff_initial_s,
                                 backoff_max_s=s.supervision.backoff_max_s,
                                 stable_after_s=s.supervision.stable_after_s),
            alerts=alerts, logger=logger, heartbeat_interval_s=s.supervision.heartbeat_interval_s,
            heartbeat_timeout_s=s.supervision.heartbeat_timeout_s, mailbox_max=s.supervision.mailbox_max,
            reconcile_interval_s=s.supervision.reconcile_interval_s,
            kill_switch_escalations=s.supervision.kill_switch_escalations,
            kill_switch_window_s=s.supervision.kill_switch_window_s, emergency_close=closer.close,
            views=self.views,
        )
        prices = PriceSlots(symbols)
        deps = ActorDeps(exchange=exchange, repo=repo, core_for=wiring.core_factory(s, exchange, repo.id_tag),
                         strategy_for=wiring.strategy_factory(s), logger=logger, report=sup.report,
                         on_escalate=sup.escalated, entries_blocked=sup.entries_blocked, views=self.views,
                         prices=prices)
        feed = MarketFeed(exchange=exchange, symbols=symbols, deliver=sup.tell,
                          interval_s=s.exchange.poll_interval_s, own_prefix=prefix, logger=logger,
                          fetch_fills=fills_poller(exchange, symbols), prices=prices)
        receiver = self._signal_receiver(repo, sup, symbols)
        self._install_signal_handlers(log)
        sup.start()
        feed.start()
        if receiver is not None:
            receiver.start()
        deadline = None if duration_s is None else time.monotonic() + duration_s
        try:
            while not self.stop_event.is_set():
                self._write_status(sup, running=True)
                self._apply_controls(repo, sup, log)
                if deadline is not None and time.monotonic() >= deadline:
                    log.info("duration reached; stopping")
                    break
                wait = s.bot.status_interval_s
                if deadline is not None:
                    wait = max(min(wait, deadline - time.monotonic()), 0.0)
                self.stop_event.wait(wait)
        finally:
            log.info("stopping: no new entries, letting each actor finish its current message")
            if receiver is not None and not receiver.stop(timeout_s=5):
                log.warning("signal receiver did not stop within 5 s")
            feed.stop()
            stuck = sup.stop()
            if stuck:
                log.error("actors did not stop in time: {}", ", ".join(stuck))
            closer.wait()
            alerts.wait(timeout=5)
            self._write_status(sup, running=False)
            pykka.ActorRegistry.stop_all(block=False)

    def _signal_receiver(self, repo: Repository, sup: Supervisor, symbols: list[str]) -> Any:
        s = self.settings
        if not s.signals.enabled:
            return None
        from signals.wiring import (SignalsConfig, build_signal_services,
                                    open_positions_from_views, repository_journal)

        return build_signal_services(
            SignalsConfig.from_mapping(s.signals.model_dump()), symbols=symbols,
            deliver=sup.deliver_signal, journal=repository_journal(repo), seen=queries.signal_seen,
            open_positions=open_positions_from_views(self.views),
            max_open_positions=s.risk.max_open_positions, logger=logger)

    def _start_actor(self, symbol: str, deps: ActorDeps) -> pykka.ActorRef:
        return SymbolActor.start(symbol, deps)

    def _install_signal_handlers(self, log: Any) -> None:
        shutdown.install()  # idempotent; bot.py installed it before the imports

        def announce() -> None:
            self.stop_event.wait()
            log.info("received {}; stopping gracefully", ", ".join(shutdown.received) or "stop request")

        threading.Thread(target=announce, name="stop-announcer", daemon=True).start()

    def _write_status(self, sup: Supervisor, *, running: bool) -> None:
        bot = {"pid": os.getpid(), "running": running, "mode": self.settings.bot.mode,
               "account": self.settings.bot.account, "version": self.version,
               "started_at": self.started_at, "exchange": self.settings.exchange.id}
        status = build_status(sup, bot, time.time(), queries.open_escalations())
        write_status(self.data_dir, status)

    def _apply_controls(self, repo: Repository, sup: Supervisor, log: Any) -> None:
        for cid, command, symbol, args in control.take_pending(repo):
            if symbol not in sup.children:
                control.mark_done(repo, cid, f"unknown symbol {symbol}")
                continue
            if command == "resume":
                repo.resolve_escalations(symbol)
                sup.resume(symbol, by=args.get("by", "operator"))
                result = "resumed"
            elif command == "signal":
                side = None if args.get("side") == "exit" else Side(args["side"])
                size = Decimal(str(args["size_usdt"])) if args.get("size_usdt") else None
                ok = sup.deliver_signal(symbol, ExternalSignal(
                    side=side, signal_id=args.get("signal_id") or f"cli-{cid}", size_usdt=size,
                    reason="manual"))
                result = "delivered" if ok else "actor not running"
            else:
                result = f"unknown command {command}"
            log.info("control {} {}: {}", command, symbol, result)
            control.mark_done(repo, cid, result)

