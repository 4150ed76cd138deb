"""One account in one process for protection tests: real SymbolActors and supervisor, real
SQLite, the paper exchange on scripted prices and a fake clock, and the account's guard wired
exactly as the bot wires it (protections.wiring.build_guard's pieces)."""

from __future__ import annotations

import uuid
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from actors.market_feed import MarketFeed
from actors.messages import ExternalSignal, Ping
from actors.symbol_actor import ActorDeps, SymbolActor
from exchange.paper.exchange import PaperExchange
from protections.guard import AccountGuard, build_checks
from runtime.wiring import market_rules
from storage.repository import Repository
from supervision.alerts import Alerts
from supervision.restart_policy import RestartPolicy
from supervision.supervisor import Supervisor
from tests.exchange.paper.paper_support import BTC, ETH, FakeClock, Market, ScriptedPrices
from tests.support.waiting import wait_until
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.model import Side
from trading.rules import Rules


class StreakRig:
    def __init__(self, tmp: Path, protections: Any, *, alerts: Alerts | None = None) -> None:
        self.tmp = tmp
        self.symbols = [BTC, ETH]
        self.clock = FakeClock()
        self.prices = ScriptedPrices({BTC: D(100), ETH: D(50)})
        self.market = Market(self.clock, self.prices)
        self.paper = PaperExchange(store_path=tmp / "paper.sqlite", symbols=self.symbols,
                                   price_source=self.prices, clock=self.clock, slippage_bps=D(0))
        self.repo = Repository(tmp / "bot.sqlite", synchronous="normal", clock=self.clock)
        self.alerts = alerts or Alerts(logger=logger)
        self.views: dict[str, Any] = {}
        self.sup = Supervisor(
            symbols=self.symbols, start_actor=self._start, repo=self.repo,
            policy=RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=0.01,
                                 backoff_max_s=0.1, stable_after_s=30),
            alerts=self.alerts, logger=logger, heartbeat_interval_s=0.05, heartbeat_timeout_s=5,
            mailbox_max=100_000, reconcile_interval_s=3600, kill_switch_escalations=100,
            kill_switch_window_s=600, views=self.views)
        self.deps = ActorDeps(exchange=self.paper, repo=self.repo, core_for=self.core_for,
                              strategy_for=lambda s: _NoSignals(), logger=logger,
                              report=self.sup.report, on_escalate=self.sup.escalated,
                              entries_blocked=self.sup.entries_blocked, views=self.views,
                              clock=self.clock)
        self.feed = MarketFeed(exchange=self.paper, symbols=self.symbols, deliver=self.sup.tell,
                               interval_s=3600, own_prefix=f"main-{self.repo.id_tag}-",
                               logger=logger, clock=self.clock)
        self.protections = protections
        self.guard = self.new_guard()

    def new_guard(self) -> AccountGuard:
        """The account's guard as the bot builds it (a second call = after a restart)."""
        base = D(10000)
        checks = build_checks(self.protections, base)
        return AccountGuard(repo=self.repo, sup=self.sup, checks=checks,
                            base=base, alert=self.alerts.alert, logger=logger, clock=self.clock)

    def core_for(self, symbol: str) -> SymbolCore:
        risk = make_rules(cooldown_after_loss_s=0.0).risk
        return SymbolCore(Rules(symbol=symbol, account="main", id_tag=self.repo.id_tag,
                                market=market_rules(self.paper, symbol), risk=risk))

    def _start(self, symbol: str) -> pykka.ActorRef:
        return SymbolActor.start(symbol, self.deps)

    def start(self) -> StreakRig:
        self.sup.start()
        wait_until(lambda: all(c.state.value == "running" for c in self.sup.children.values()),
                   message="actors running")
        return self

    def stop(self) -> None:
        self.sup.stop(timeout_s=10)
        pykka.ActorRegistry.stop_all(block=False)
        self.repo.close()
        self.paper.close()

    # -- driving ---------------------------------------------------------------------------------
    def settle(self) -> None:
        for symbol in self.symbols:
            self.sup.children[symbol].ref.ask(Ping(), timeout=10)

    def step(self, symbol: str, *path: str) -> None:
        """The market moves, the feed polls, the actors handle it, the run loop's guard ticks."""
        for price in path:
            self.market.move(symbol, price)
            self.feed.poll_once()
            self.settle()
            self.guard.tick()
            self.settle()  # a BlockEntries the guard sent is handled before the next step

    def enter_long(self, symbol: str) -> None:
        self.sup.deliver_signal(symbol, ExternalSignal(side=Side.LONG,
                                                       signal_id=uuid.uuid4().hex[:8]))
        self.settle()

    def view(self, symbol: str) -> Any:
        return self.views[symbol].view()

    def exchange_position(self, symbol: str) -> D:
        return sum((p.contracts for p in self.paper.fetch_positions([symbol])), D(0))


class _NoSignals:
    name = "none"

    def on_price(self, price, volume, now, position):
        return None
