"""One account of a running bot: its own database, exchange, supervisor subtree, market feed,
emergency closer and alerts. Nothing here is shared with another account, so a crash loop, an
escalation or a tripped kill switch in one account never stops or blocks another.

Several accounts share only the process, the log sink, the signal receiver (which routes each
signal to one account) and the run loop that writes the status dump and applies CLI controls.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pykka

from actors import protection
from actors.balance_watch import BalanceWatch
from actors.entry_gate import AccountGate
from actors.exchange_sweep import ExchangeSweep
from actors.first_read import FirstRead
from actors.funding_feed import FundingFeed, MetaCursor
from actors.hot_path_metrics import MetricsRelay
from actors.leverage import LeverageSetter
from actors.market_feed import MarketFeed
from actors.price_slots import PriceSlots
from actors.stop_watch import StopWatch
from actors.stream_feed import StreamFeed
from actors.symbol_actor import ActorDeps, SymbolActor
from config.secrets import secret_env_names
from config.settings import Settings
from exchange.ccxt.errors import scrub
from exchange.fence import AccountFence
from protections.wiring import build_guard, journal_control
from runtime import wiring
from runtime.emergency import EmergencyCloser, owed_closes
from runtime.exchanges import build_exchange, gateway_account
from runtime.first_pass import LedgerJudged, judge_stored_ledger
from runtime.rest_demand import check_rest_demand
from runtime.round_gate import RoundGate
from runtime.start_checks import check_style, check_unlisted, check_venue
from runtime.startup_error import StartupConfigError
from runtime.stop_accounts import stop_together
from runtime.stream_wiring import account_feed, pace_by_reports
from storage import control, queries
from storage.opening import open_repository
from storage.repository import Repository
from storage.writer import writes_within
from supervision.alerts import Alerts
from supervision.child import ChildState, state_of
from supervision.coverage import StopCoverageWatch
from supervision.hook_outbox import open_hook_outbox
from supervision.reconcile_watch import ReconcileWatch
from supervision.restart_policy import RestartPolicy
from supervision.status import build_status, database_fields, stream_status
from supervision.supervisor import Supervisor
from trading.client_ids import epoch_tag

ExchangeBuilder = Callable[[Settings, Path], Any]
ActorStarter = Callable[[str, ActorDeps], pykka.ActorRef]


def _status_reads() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Inside `repo.read`: the status round's reads, one bounded wait for both (the open
    escalations, the emergency closes owed)."""
    return queries.open_escalations(), owed_closes()


def _start_symbol_actor(symbol: str, deps: ActorDeps) -> pykka.ActorRef:
    return SymbolActor.start(symbol, deps)


class AccountRuntime:
    """``open()`` (database, exchange, checks) -> ``start()`` -> ``stop()`` -> ``close()``."""

    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        *,
        logger: Any,
        tagged: bool,
        config_key: str = "",
        build_exchange_: ExchangeBuilder = build_exchange,
        start_actor: ActorStarter | None = None,
        epoch: int = 0,
        commit_guard: Callable[[Any], None] | None = None,
        exchange_guard: Callable[[], None] | None = None,
        feed_sharers: int = 1,
        secret_env: frozenset[str] = frozenset(),
    ) -> None:
        self.settings = settings
        self.secret_env = secret_env
        """Every account's secret environment variables, kept from the alert command."""
        self.feed_sharers = feed_sharers
        """Live accounts of the process paying this account's venue budget (its REST feed's
        pace, `rest_poll_interval`)."""
        self.config_key = config_key
        """Where this account is in the config file (``accounts[1].``), for startup errors."""
        self.name = settings.bot.account
        self.data_dir = data_dir
        self.tagged = tagged
        """True with ``[[accounts]]``: lines carry the account and go to logs/<account>/."""
        self.log = logger.bind(account=self.name) if tagged else logger
        self.symbols = list(settings.symbol_list)
        self.views: dict[str, Any] = {}
        self._build_exchange = build_exchange_
        self._start_actor = start_actor or _start_symbol_actor
        self.gate: AccountGate | None = None
        self.repo: Repository | None = None
        self.writer_running = False
        """Closed with its database writer still busy (a stalled disk): it may still write."""
        self.exchange: Any = None
        self.sup: Supervisor | None = None
        self.feed: MarketFeed | StreamFeed | None = None
        self.closer: EmergencyCloser | None = None
        self.alerts: Alerts | None = None
        self.coverage: StopCoverageWatch | None = None
        """Rule 5: alerts a position left without its exchange stop (supervision/coverage.py)."""
        self.unchecked: ReconcileWatch | None = None
        """Alerts a position not reconciled for minutes (supervision/reconcile_watch.py)."""
        self.guard: Any = None
        """Protections, operator pause and the P&L summary (protections/guard.py)."""
        self.stop_watch: StopWatch | None = None
        self.sweep: ExchangeSweep | None = None
        """The all-symbol look while the private streams are up (actors/exchange_sweep.py)."""
        self.funding: FundingFeed | None = None  # live: funding payments into the ledger
        self.balance: BalanceWatch | None = None  # the gate's free margin
        self.epoch = epoch
        """The cluster lease epoch this runtime acts under (0: no cluster); part of its ids."""
        self._commit_guard = commit_guard  # run inside every commit (a node's lease check)
        self._exchange_guard = exchange_guard
        """Checked before each exchange request and retry of every actor (a node's lease)."""
        self.round = RoundGate()
        """The run loop's status and controls steps against a stop on another thread."""

    # -- lifecycle -------------------------------------------------------------------------------
    def open(self) -> None:
        s = self.settings  # the REST schedule first: a refusal leaves nothing behind
        check_rest_demand(s, sharers=self.feed_sharers, warn=self.log.warning,
                          config_key=self.config_key)
        self.repo = open_repository(
            s.storage, path=s.resolve(s.storage.path), account=self.name,
            commit_guard=self._commit_guard,
        )
        check_venue(self.repo, s, self.name, self.config_key)
        check_style(self.repo, s, self.name, self.config_key)
        with gateway_account(self.name if self.tagged else None):  # its gateway's lines
            try:
                self.exchange = self._build_exchange(s, self.data_dir)
            except StartupConfigError as exc:  # which account's key (found by review)
                raise StartupConfigError(f"{self.config_key}{exc}") from exc.__cause__
        try:
            wiring.check_symbols(self.exchange, self.symbols, s.bot.account)
            if s.bot.mode == "live":
                wiring.check_key(self.exchange)
        except wiring.StartupError as exc:  # a StartupConfigError stays one: its file line
            raise type(exc)(f"{self.config_key}{exc}") from None
        check_unlisted(self.repo, self.symbols, self.name, self.config_key)

    def build(self) -> None:
        s, repo, exchange = self.settings, self.repo, self.exchange
        assert repo is not None and exchange is not None, "open() first"
        alerts = self._alerting(s)
        prefix = f"{self.name}-{repo.id_tag}-"  # every epoch's ids start with it (own fills)
        tag = epoch_tag(repo.id_tag, self.epoch)
        self.closer = EmergencyCloser(exchange=exchange, repo=repo, prefix=f"{self.name}-{tag}-",
                                      logger=self.log, alert=alerts.alert,
                                      retry_owed=True)  # a temporary failure: run again
        sup = self._supervisor(repo, lambda sym: self._start_actor(sym, deps))
        sup.fences.account_check = self._exchange_guard
        self.closer.fence = AccountFence(sup.fences)  # its calls under the account's lease too
        # Ticks are conflated into per-symbol price slots for every style (actors/price_slots.py).
        prices = PriceSlots(self.symbols)
        self.gate = AccountGate(max_open_positions=s.risk.max_open_positions,
                                kill_switch=sup.entries_blocked)
        grid = s.strategy.name == "hedge_grid"  # its symbols hold up to 2 slots each
        self.gate.seed(repo.read(queries.open_positions_of, self.symbols, grid))
        self.balance = BalanceWatch(exchange=exchange, gate=self.gate, symbols=self.symbols,
                                    logger=self.log, interval_s=s.supervision.reconcile_interval_s)
        deps = self._actor_deps(sup, prices)
        # a quarantined symbol's reconcile-only run (supervision/reconcile_only.py): its own
        # report and escalation channel, no strategy, no price slot
        sup.reconcile_only.start = lambda sym, report, escalated: self._start_actor(
            sym, dataclasses.replace(deps, report=report, on_escalate=escalated,
                                     strategy_for=None, prices=None))
        self.feed = account_feed(s, self.data_dir, exchange, self.symbols, sup.tell, prices,
                                 own_prefix=prefix, sharers=self.feed_sharers, logger=self.log,
                                 views=self.views)
        self.sup = sup
        self.guard = build_guard(s, repo, sup, self.alerts, self.log)
        if self.guard is not None:  # the protections refuse entries through the one gate,
            judge_stored_ledger(self.guard, self.log, self.name)  # before any actor starts
            self._applier().apply(only=self.guard.handles)  # a pause or kill switch queued
            self.gate.add_check(LedgerJudged(self.guard))
            self.gate.add_check(self.guard)
        # issue 12: stop watch + the venue's stop capacity at the gate (actors/protection.py)
        self.stop_watch = protection.install(s, exchange, self.gate, self.views, sup.tell, self.log,
                                             alerts=self.alerts)
        self._reconcile_by_reports(sup)

    def _alerting(self, s: Settings) -> Alerts:
        """The account's alerts (what a killed run's hooks had not delivered sent first) and
        the watches that raise them: stop coverage, symbols not reconciled with the exchange."""
        sv = s.supervision
        self.alerts = Alerts(
            logger=self.log,
            command=sv.alert_command,
            webhook=sv.alert_webhook,
            account=self.name if self.tagged else None,
            secret_env=self.secret_env | secret_env_names(s),
            outbox=open_hook_outbox(self.data_dir, self.name, self.log,
                                    bool(sv.alert_command or sv.alert_webhook)),
        )
        self.alerts.resend_left()  # what a killed run's hooks had not delivered
        self.coverage = StopCoverageWatch(  # "bot": the one-way stops live in the bot
            alerts=self.alerts, logger=self.log, grace_s=wiring.stop_grace_s(s),
            bot_side_stops=s.exchange.stop_mode == "bot")
        self.unchecked = ReconcileWatch(alerts=self.alerts, logger=self.log)
        return self.alerts

    def _reconcile_by_reports(self, sup: Supervisor) -> None:
        """While the venue's private streams are up they report cancels, fills and positions:
        the stop watch slows down and the periodic reconcile skips flat symbols. On a live venue
        flat symbols are never reconciled one by one (streams or not): the sweep looks at all of
        them at once, every sweep interval while the streams are up and every reconcile interval
        while they are down (supervision/reconcile_schedule.py)."""
        feed = self.feed
        up: Callable[[], bool] = lambda: False  # noqa: E731 - no streams: never up
        if isinstance(feed, StreamFeed):
            assert self.stop_watch is not None
            up = pace_by_reports(feed, self.stop_watch, sup.schedule)
        if self.settings.bot.mode != "live":
            return  # paper and dry-run reconcile against the paper exchange: no venue budget
        assert self.exchange is not None and self.repo is not None
        sv = self.settings.supervision
        sup.schedule.flat_by_sweep = True
        self.sweep = ExchangeSweep(
            exchange=self.exchange, symbols=self.symbols, views=self.views, deliver=sup.tell,
            logger=self.log, interval_s=sv.sweep_interval_s, streams_ok=up,
            down_interval_s=sv.reconcile_interval_s,
        )
        self.funding = FundingFeed(exchange=self.exchange, symbols=self.symbols,
                                   deliver=sup.tell, logger=self.log,
                                   cursor=MetaCursor(self.repo),
                                   booked=self.repo.booked_among)

    def _supervisor(
        self, repo: Repository, start_actor: Callable[[str], pykka.ActorRef]
    ) -> Supervisor:
        """The account's supervisor, configured from the ``[supervision]`` section."""
        sv = self.settings.supervision
        assert self.closer is not None and self.alerts is not None
        return Supervisor(
            symbols=self.symbols,
            start_actor=start_actor,
            repo=repo,
            policy=RestartPolicy(
                max_restarts=sv.max_restarts, period_s=sv.restart_period_s,
                backoff_initial_s=sv.backoff_initial_s, backoff_max_s=sv.backoff_max_s,
                stable_after_s=sv.stable_after_s),
            alerts=self.alerts,
            logger=self.log,
            heartbeat_interval_s=sv.heartbeat_interval_s,
            heartbeat_timeout_s=sv.heartbeat_timeout_s,
            mailbox_max=sv.mailbox_max,
            reconcile_interval_s=sv.reconcile_interval_s,
            streamed_reconcile_interval_s=sv.streamed_reconcile_interval_s,
            kill_switch_escalations=sv.kill_switch_escalations,
            kill_switch_window_s=sv.kill_switch_window_s,
            emergency_close=self.closer.close,
            views=self.views,
        )

    def _actor_deps(self, sup: Supervisor, prices: PriceSlots) -> ActorDeps:
        """What every symbol actor of the account shares (its core factory by trading style)."""
        s, repo, exchange = self.settings, self.repo, self.exchange
        assert repo is not None and exchange is not None and self.gate is not None
        grid = s.strategy.name == "hedge_grid"
        factory = wiring.grid_core_factory if grid else wiring.core_factory
        core_for = factory(s, exchange, epoch_tag(repo.id_tag, self.epoch))
        self.metrics = MetricsRelay(self.name)
        return ActorDeps(
            exchange=exchange,
            repo=repo,
            core_for=core_for,
            metrics=self.metrics,
            strategy_for=wiring.strategy_factory(s),
            logger=self.log,
            report=sup.report,
            on_escalate=sup.escalated,
            entries_blocked=sup.entries_blocked,
            views=self.views,
            prices=prices,
            gate=self.gate,
            fences=sup.fences, busy=sup.busy,  # calls fenced by incarnation; bounded: not hangs
            first_read=FirstRead(exchange=exchange, symbols=self.symbols, logger=self.log)
            if s.bot.mode == "live" else None,  # every first reconciliation from one read
            leverage=LeverageSetter(exchange, s.risk.leverage) if s.bot.mode != "paper" else None,
        )

    def start(self) -> None:
        assert self.sup is not None and self.feed is not None, "build() first"
        if self.tagged:
            self.log.info("account starting: exchange {} symbols {}",
                          self.settings.exchange.id, len(self.symbols))
        owed = self.closer.owed(self.symbols) if self.closer is not None else {}
        self.sup.start()  # an actor failing at once may escalate and owe a close from here on
        self._resume_emergency_closes(owed)
        self.feed.start()
        if self.stop_watch is not None:
            self.stop_watch.start()
        for part in (self.sweep, self.funding, self.balance):
            if part is not None:
                part.start()

    def _resume_emergency_closes(self, owed: dict[str, str]) -> None:
        """The emergency closes `owed` (read before this process's actors started) run again
        (runtime/emergency.py), unless a person resumed the symbol meanwhile."""
        assert self.closer is not None and self.sup is not None and self.alerts is not None
        assert self.repo is not None
        sup, alerts = self.sup, self.alerts
        resumed = control.resumes_not_begun(self.repo)  # a begun one forgave already
        self.closer.resume_owed(
            self.symbols, resumed=resumed,
            alert=lambda sym, text: alerts.alert(sym, "escalation", text),
            then=sup.after_close, before=owed)  # its actor reconciles, or a reconcile-only run

    def stop(self) -> list[str]:
        """No new entries, each actor finishes its current message; returns the stuck symbols."""
        stuck: list[str] = []
        if self.closer is not None:  # an owed close waiting to run again does not (`wait`)
            self.closer.stop()
        stop_together([self.stop_watch, self.sweep, self.funding, self.balance, self.feed],
                      self.log)
        if self.sup is not None:
            stuck = self.sup.stop()
        if self.closer is not None:
            self.closer.wait()
            stuck += self.closer.running()  # a close still sending: not safe to hand over
        if self.alerts is not None:
            self.alerts.wait(timeout=5)
        if self.guard is not None:  # the final status counts the fills booked meanwhile
            self.guard.catch_up()
        return stuck

    def close(self) -> None:
        exchange, self.exchange = self.exchange, None
        repo, self.repo = self.repo, None
        try:
            if exchange is not None:
                exchange.close()
        finally:
            if repo is not None:  # aborts the calls in flight if the database stopped answering
                self.writer_running = not repo.close()
            outbox = self.alerts.outbox if self.alerts is not None else None
            if outbox is not None:  # found by review: a cluster node opens a new one at each
                outbox.close()  # lease taken, and every one before stayed open (a hook still
                # delivering then cannot remove its row: one line, delivered again next start)

    # -- the run loop's calls ----------------------------------------------------------------------
    def status(self, bot: dict[str, Any], now: float) -> dict[str, Any]:
        """Raises AccountLeft, reading nothing, once the account is stopping (round_gate)."""
        with self.round.step():
            return self._status(bot, now)

    def _status(self, bot: dict[str, Any], now: float) -> dict[str, Any]:
        assert self.sup is not None and self.repo is not None
        read, unreachable = self.repo.read_bounded(_status_reads)  # one bounded wait
        escalations, owed = read or ([], {})
        status = build_status(self.sup, bot, now, escalations)
        if unreachable is not None:  # escalations as last read; trading goes on by the leases
            status.update(database_fields(unreachable, self.repo.read_at(_status_reads)))
        if self.coverage is not None:  # one alert per unprotected episode, not per interval
            self.coverage.observe(status, now)
        if self.unchecked is not None:  # one alert per episode of failing reconciliations
            self.unchecked.observe(status, now)
        status["exchange"] = self.settings.exchange.id
        status["emergency_closes_owed"] = self._owed_closes(owed, escalations)
        sup, closer = self.sup, self.closer
        assert closer is not None
        status["emergency_closes_not_booked"] = closer.not_booked(
            lambda sym, sent_at: sym in sup.children and (
                sup.children[sym].state is ChildState.RUNNING
                or sup.reconcile_only.booked_since(sym, sent_at)))
        status.update(stream_status(self.feed))
        if self.guard is not None:
            status.update(self.guard.status_fields(now))
        return status

    def _owed_closes(self, owed: dict[str, str],
                     escalations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The emergency closes still owed (runtime/emergency.py `owed_status`), symbols taken
        off symbols.list included; their last error without a secret of the configuration or
        a request signature in it."""
        assert self.repo is not None and self.closer is not None
        entries = self.closer.owed_status(owed, self.symbols, escalations)
        names = self.secret_env | secret_env_names(self.settings)
        secrets = tuple(v for v in (os.environ.get(n, "") for n in sorted(names)) if len(v) >= 4)
        for entry in entries:
            if entry["last_error"]:
                entry["last_error"] = scrub(entry["last_error"], secrets)
        return entries

    def signal_account(self) -> Any:
        """This account as the signal receiver sees it (signals reach storage only through it)."""
        from signals.wiring import SignalAccount, repository_journal

        repo, sup, gate = self.repo, self.sup, self.gate
        assert repo is not None and sup is not None and gate is not None
        return SignalAccount(
            name=self.name,
            symbols=tuple(self.symbols),
            deliver=sup.deliver_signal,
            journal=repository_journal(repo),
            seen=lambda sid: repo.read(queries.signal_received, sid),
            open_positions=gate.open_positions,  # what the gate counts, of either style
            held=gate.held,  # per symbol: a reservation counts until its actor counts it
            max_open_positions=self.settings.risk.max_open_positions, bounded=writes_within,
            log=self.log, actor_state=state_of(sup.children),  # its own log; a start waited for
        )

    def apply_controls(self) -> None:
        """Apply the controls queued by the command line (see runtime/controls.py). Raises
        AccountLeft once the account is stopping: its controls stay queued for the next run
        of the account (on a cluster: the node that takes it over)."""
        with self.round.step():
            self._apply_controls()

    def _apply_controls(self) -> None:
        repo = self.repo
        assert repo is not None and self.sup is not None
        if repo.unreachable is not None:
            return  # queued controls wait for the database (they are read from it)
        self._applier().apply()

    def _applier(self) -> Any:
        """The account's control applier (runtime/controls.py); `build` applies the queued
        account-wide controls (pause, kill switch, resets) with it before any actor starts."""
        applier, repo = getattr(self, "_controls", None), self.repo
        assert repo is not None
        if applier is None or applier.sup is not self.sup:
            from runtime.controls import ControlApplier

            applier = self._controls = ControlApplier(
                repo=repo, sup=self.sup, log=self.log, guard=self.guard, journal=journal_control,
                max_size_usdt=self.settings.signals.max_size_usdt)
        return applier
