"""A whole bot in one process for tests: real pykka actors, a real SQLite file, the paper
exchange on a manual clock, the real supervisor. Parts can be swapped through constructor
arguments (exchange wrapper, strategy factory)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from actors.entry_gate import AccountGate
from actors.hot_path_metrics import MetricsRelay
from actors.market_feed import MarketFeed
from actors.messages import ExternalSignal, Tick
from actors.price_slots import PriceSlots
from actors.symbol_actor import ActorDeps, SymbolActor
from exchange.paper.exchange import PaperExchange
from exchange.paper.prices import GeneratorPriceSource
from runtime.emergency import EmergencyCloser
from runtime.wiring import market_rules
from storage import queries
from storage.repository import Repository
from strategies.base import Strategy
from supervision.alerts import Alerts
from supervision.restart_policy import RestartPolicy
from supervision.supervisor import Supervisor
from tests.support.clock import ManualClock
from tests.support.waiting import wait_until
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.model import Side
from trading.rules import Rules


class NoSignals:
    name = "none"

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        return None


def seeded_paper(store: Path, symbols: list[str], clock: ManualClock,
                 **kwargs: Any) -> PaperExchange:
    """The paper exchange the harness trades on: prices from a seeded generator that starts
    10 s before `clock`, the exchange on that clock (`kwargs`: PaperExchange's own)."""
    return PaperExchange(
        store_path=store, symbols=symbols,
        price_source=GeneratorPriceSource(seed=11, step_ms=1000, speed=1.0,
                                          epoch_ms=int(clock() * 1000) - 10_000),
        clock=clock, **kwargs)


class Harness:
    def __init__(self, tmp: Path, symbols: list[str], *, clock: ManualClock | None = None,
                 wrap: Callable[[PaperExchange], Any] | None = None,
                 strategy_for: Callable[[str], Strategy] | None = None,
                 policy: RestartPolicy | None = None, risk: dict[str, Any] | None = None,
                 heartbeat_interval_s: float = 0.05, heartbeat_timeout_s: float = 10.0,
                 mailbox_max: int = 100_000, kill_switch_escalations: int = 100,
                 latency_s: float = 0.0, paper_store: Path | None = None, db: Path | None = None,
                 max_open_positions: int | None = None,
                 repository: type[Repository] = Repository,
                 metrics: MetricsRelay | None = None) -> None:
        self.tmp = tmp
        self.symbols = symbols
        self.clock = clock or ManualClock()
        self.paper = seeded_paper(paper_store or tmp / "paper.sqlite", symbols, self.clock,
                                  latency_s=latency_s)
        self.exchange = wrap(self.paper) if wrap else self.paper
        self.repo = repository(db or tmp / "bot.sqlite", synchronous="normal")
        self.alerts = Alerts(logger=logger)
        self.views: dict[str, Any] = {}
        self.risk = risk or {}
        self.closer = EmergencyCloser(exchange=self.exchange, repo=self.repo, logger=logger,
                                      prefix=f"main-{self.repo.id_tag}-", clock=self.clock)
        self._sup_args: dict[str, Any] = dict(
            symbols=symbols, start_actor=self._start, repo=self.repo,
            policy=policy or RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=0.01,
                                           backoff_max_s=0.1, stable_after_s=30),
            alerts=self.alerts, logger=logger, heartbeat_interval_s=heartbeat_interval_s,
            heartbeat_timeout_s=heartbeat_timeout_s, mailbox_max=mailbox_max,
            reconcile_interval_s=3600, kill_switch_escalations=kill_switch_escalations,
            kill_switch_window_s=600, views=self.views, emergency_close=self.closer.close)
        self.sup = Supervisor(**self._sup_args)
        self.prices = PriceSlots(symbols)
        self.gate = AccountGate(max_open_positions=max_open_positions,
                                kill_switch=self.sup.entries_blocked, clock=self.clock)
        self.gate.seed(self.repo.read(queries.open_positions_of, symbols))
        self.deps = ActorDeps(exchange=self.exchange, repo=self.repo, core_for=self.core_for,
                              strategy_for=strategy_for or (lambda s: NoSignals()), logger=logger,
                              report=self.sup.report, on_escalate=self.sup.escalated,
                              entries_blocked=self.sup.entries_blocked, views=self.views,
                              clock=self.clock, prices=self.prices, gate=self.gate,
                              metrics=metrics)
        self.feed = MarketFeed(exchange=self.exchange, symbols=symbols, deliver=self.sup.tell,
                               interval_s=3600, own_prefix=f"main-{self.repo.id_tag}-",
                               logger=logger, clock=self.clock, prices=self.prices)

    def supervisor(self, **over: Any) -> Supervisor:
        """A supervisor built as the harness's own (its symbols, repository, alerts, views,
        emergency closer and settings); `over`: any of its arguments instead (an actor starter
        that fails, other clocks, another restart policy). Not in use until `supervise_with`."""
        return Supervisor(**{**self._sup_args, **over})

    def supervise_with(self, sup: Supervisor, *, fenced: bool = False,
                       report: Callable[..., Any] | None = None) -> Supervisor:
        """Put `sup` in place of the harness's supervisor before the start: the actors report
        to it (or to `report`) and escalate to it, the feed delivers to it; `fenced`: the actors
        also take its fences and busy board."""
        self.sup = sup
        fences = dict(fences=sup.fences, busy=sup.busy) if fenced else {}
        self.deps = dataclasses.replace(self.deps, report=report or sup.report,
                                        on_escalate=sup.escalated,
                                        entries_blocked=sup.entries_blocked, **fences)
        self.feed.deliver = sup.tell
        return sup

    def core_for(self, symbol: str) -> SymbolCore:
        base = make_rules(**self.risk)
        return SymbolCore(Rules(symbol=symbol, account="main", id_tag=self.repo.id_tag,
                                market=market_rules(self.paper, symbol), risk=base.risk))

    def _start(self, symbol: str) -> pykka.ActorRef:
        return SymbolActor.start(symbol, self.deps)

    # -- driving -------------------------------------------------------------------------------
    def start(self, wait: bool = True) -> Harness:
        self.sup.start()
        if wait:
            wait_until(lambda: all(c.state.value in ("running", "quarantined")
                                   for c in self.sup.children.values()),
                       message="all actors running")
        return self

    def stop(self) -> None:
        self.sup.stop(timeout_s=10)
        self.closer.wait()
        pykka.ActorRegistry.stop_all(block=False)
        self.repo.close()
        self.paper.close()

    def child(self, symbol: str):  # noqa: ANN201
        return self.sup.children[symbol]

    def poll(self) -> None:
        """One feed poll: prices to every actor, fills to their owners."""
        self.feed.poll_once()

    def signal(self, symbol: str, side: Side | None, size: str | None = None) -> bool:
        return self.sup.deliver_signal(symbol, ExternalSignal(
            side=side, signal_id=uuid.uuid4().hex[:8], size_usdt=Decimal(size) if size else None))

    def tick(self, symbol: str, price: Decimal) -> bool:
        return self.sup.tell(symbol, Tick(price=price))

    def view(self, symbol: str):  # noqa: ANN201
        published = self.views.get(symbol)
        return published.view() if published is not None else None

    def idle(self, symbol: str, timeout: float = 10.0) -> None:
        """Wait until the actor has processed everything sent so far (an ask round trip),
        the quiet wakes the feed's pacer still held included."""
        from actors.messages import Ping

        assert self.feed.wait_delivered(timeout), "the feed's quiet wakes were not delivered"
        ref = self.child(symbol).ref
        ref.ask(Ping(), timeout=timeout)

    def exchange_position(self, symbol: str) -> dict | None:
        for p in self.paper.fetch_positions([symbol]):
            if p.symbol == symbol and p.contracts > 0:
                return p
        return None

    def exchange_stops(self, symbol: str) -> list[dict]:
        return [o for o in self.paper.fetch_open_orders(symbol) if o.is_stop]
