"""GridActor: the imperative shell around one hedge-grid symbol's pure core (trading/grid).

The same shape as SymbolActor: one pykka ThreadingActor per symbol with a private mailbox; for
every message build an event, decide, commit the new state with its journal and ledger in one
transaction (write-ahead), then execute the commands and feed their results back as events in
the same message. Restore-and-reconcile in `on_start` is the only way it begins. Reconciliation
is a message like any other, so a take-profit fill that arrives during one is handled right
after it, never dropped (incident 8).
"""

from __future__ import annotations

import uuid
from collections import deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable

import pykka

from actors.actor_view import ActorView
from actors import exchange_snapshot as snap
from actors.command_executor import CommandExecutor, describe
from actors.messages import (
    BlockEntries,
    ExternalSignal,
    OrderActivity,
    Ping,
    Reconcile,
    Resume,
    Tick,
    Timer,
)
from actors.order_results import events_for
from actors.shell import ShellMixin
from actors.symbol_actor import ActorDeps
from exchange.port import ExchangePort
from trading.commands import CancelOrder, Escalate
from trading.events import (
    EntriesBlocked,
    Event,
    ExchangePosition,
    OrderFailed,
    PriceTicked,
    QuarantineLifted,
    SignalRaised,
    TimerFired,
)
from trading.grid.context import PlaceGridOrder
from trading.grid.core import GridCore
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind, GridOrder, GridState
from trading.model import OrderStatus, Side

POSITION_IDX = {Side.LONG: 1, Side.SHORT: 2}
SETTLE = "USDT"


@dataclass(frozen=True, slots=True, kw_only=True)
class GridDeps:
    core_for: Callable[[str], GridCore]
    emergency_close: Callable[[str, str], None] | None = None
    """The supervisor's separate emergency path, run when the grid escalates."""


class GridExecutor(CommandExecutor):
    """Places grid orders in hedge mode (positionIdx names the leg); an order that can grow a
    position is preceded by exactly one balance check (one check, one place)."""

    def execute_grid(self, command: Any) -> list[Event]:
        match command:
            case PlaceGridOrder(order=order, margin=margin):
                return self._place_grid(order, margin)
            case CancelOrder(client_order_id=cid, exchange_id=eid):
                return self._cancel(cid, eid)
            case Escalate():
                self.on_escalate(self.symbol, command)
                return []
        raise TypeError(f"unknown grid command {command!r}")

    def _place_grid(self, order: GridOrder, margin: Decimal | None) -> list[Event]:
        cid = order.client_order_id
        if margin is not None:
            refused = self._check_balance(cid, margin)
            if refused is not None:
                return [refused]
        params: dict[str, Any] = {"clientOrderId": cid, "positionIdx": POSITION_IDX[order.leg]}
        if order.kind.reduces:
            params["reduceOnly"] = True
        kind, price = "market", None
        if order.kind in (GridKind.ADD, GridKind.TP):
            kind, price = "limit", order.price
        elif order.kind is GridKind.STOP:
            params["stopLossPrice"] = order.price
        try:
            result = self.exchange.create_order(self.symbol, kind, order.side, order.amount, price, params)
            return events_for(cid, result, pending=True)
        except Exception as exc:  # noqa: BLE001 - resolved by lookup, then an event
            self.log.warning("create_order {} failed: {}; looking it up by client id", cid, describe(exc))
            return self._resolve(cid, exc)

    def _check_balance(self, cid: str, margin: Decimal) -> OrderFailed | None:
        try:
            free = self.exchange.fetch_balance().free(SETTLE)
        except Exception as exc:  # noqa: BLE001 - unknown balance: do not place
            return OrderFailed(client_order_id=cid, error=f"balance check failed: {describe(exc)}")
        if free < margin:
            return OrderFailed(client_order_id=cid,
                               error=f"insufficient balance: free {free} {SETTLE} < {margin} needed")
        return None


def gather(exchange: ExchangePort, state: GridState, attempts: int = 3) -> GridReconciled:
    """A consistent snapshot of both legs, the same way as the one-way actor's
    (actors/exchange_snapshot.py): positions read before and after the orders."""
    symbol = state.symbol

    def read(legs: dict[Side, ExchangePosition]) -> GridReconciled:
        live = {o.client_order_id for o in state.orders}
        return GridReconciled(positions=legs, orders=snap.lookup_orders(exchange, symbol, state.orders),
                              orphans=snap.orphans(exchange, symbol, live), price=snap.last_price(exchange, symbol))

    return snap.consistent(symbol, lambda: snap.positions(exchange, symbol), read, attempts)


@dataclass(frozen=True, slots=True)
class GridPublished:
    state: GridState
    last_tick_at: float | None
    reconciled: bool

    def view(self) -> ActorView:
        return grid_view(self.state, self.last_tick_at, self.reconciled)


def _short(value: Decimal) -> str:
    """An average entry for display: 8 decimal places at most (the state keeps every digit)."""
    return str(value.quantize(Decimal("1e-8")).normalize()) if value.as_tuple().exponent < -8 else str(value)


def grid_view(state: GridState, last_tick_at: float | None, reconciled: bool) -> ActorView:
    mark = state.last_price
    legs = []
    for leg in (state.long, state.short):
        if not leg.is_open or leg.entry_price is None:
            continue
        upnl = None if mark is None else (mark - leg.entry_price) * leg.contracts * leg.side.sign
        stops = [o for o in state.orders_of(leg.side, GridKind.STOP) if o.status is OrderStatus.OPEN]
        tps = [o for o in state.orders_of(leg.side, GridKind.TP) if o.status is OrderStatus.OPEN]
        legs.append({"side": leg.side.value, "contracts": str(leg.contracts), "entry_price": _short(leg.entry_price),
                     "mark_price": None if mark is None else str(mark),
                     "unrealized_pnl": None if upnl is None else str(upnl.quantize(Decimal("0.0001"))),
                     "level": leg.level, "stop_price": str(leg.stop_price), "protected": bool(stops),
                     "take_profit": str(tps[-1].price) if tps else None})
    position = None
    if legs:
        position = dict(legs[0]) if len(legs) == 1 else {
            "side": "hedge", "contracts": "/".join(x["contracts"] for x in legs),
            "entry_price": "/".join(x["entry_price"] for x in legs), "mark_price": legs[0]["mark_price"],
            "unrealized_pnl": str(sum(Decimal(x["unrealized_pnl"] or 0) for x in legs))}
        position["legs"] = legs
    return ActorView(
        phase="open" if legs else ("reopening" if state.reopen else "flat"), position=position,
        stop_price="/".join(x["stop_price"] for x in legs) or None,
        protected=bool(legs) and all(x["protected"] for x in legs), trailing=None, cooldown_until=0.0,
        close_attempts=max(state.long.close_attempts, state.short.close_attempts),
        quarantined=state.quarantined, quarantine_reason=state.quarantine_reason,
        last_tick_at=last_tick_at, reconciled=reconciled)


class GridActor(ShellMixin, pykka.ThreadingActor):
    use_daemon_thread = True
    waiting_note = "the grid waits until it succeeds"

    def __init__(self, symbol: str, deps: ActorDeps, grid: GridDeps) -> None:
        super().__init__()
        self.symbol = symbol
        self.deps = deps
        self.grid = grid
        self.log = deps.logger.bind(symbol=symbol)
        self.core = grid.core_for(symbol)
        self.executor = GridExecutor(symbol, deps.exchange, on_escalate=self._escalated, log=self.log)
        self.incarnation = 0
        self.state = GridState(symbol=symbol)
        self.reconciled = False
        self.last_tick_at: float | None = None
        self.published = GridPublished(self.state, None, False)

    # -- lifecycle --------------------------------------------------------------------------
    def on_start(self) -> None:
        try:
            self.incarnation = self.deps.repo.claim(self.symbol)
            self.state = self.deps.repo.load_grid(self.symbol)
            if self.deps.entries_blocked():
                self._apply(EntriesBlocked(blocked=True, reason="kill switch"))
            self._reconcile("start")
        except Exception as exc:
            self.log.error("failed to start: {}", describe(exc))
            self.deps.report(self.symbol, self.incarnation, "start_failed", exc)
            raise
        self.log.info("started (incarnation {}, hedge grid, long {}, short {}, reconciled {})", self.incarnation,
                      self.state.long.contracts, self.state.short.contracts, self.reconciled)
        self.deps.report(self.symbol, self.incarnation, "started", None)

    def on_stop(self) -> None:
        self.log.info("stopped (hedge grid, long {}, short {})", self.state.long.contracts, self.state.short.contracts)
        self.deps.report(self.symbol, self.incarnation, "stopped", None)

    def _escalated(self, symbol: str, command: Escalate) -> None:
        self.deps.on_escalate(symbol, command)
        if self.grid.emergency_close is not None:
            self.grid.emergency_close(symbol, command.reason)

    # -- messages ---------------------------------------------------------------------------
    def on_receive(self, message: Any) -> Any:
        match message:
            case Tick():
                self.last_tick_at = self.deps.clock()
                if self.reconciled:
                    self._apply(PriceTicked(price=message.price))
            case ExternalSignal():
                self._apply(SignalRaised(side=message.side, reason=message.reason, signal_id=message.signal_id))
                if message.signal_id:
                    self.deps.repo.record(self.symbol, "SignalHandled", {"signal_id": message.signal_id},
                                          correlation_id=message.signal_id)
            case OrderActivity():
                self._activity(message)
            case Reconcile(reason=reason):
                self._reconcile(reason)
            case Timer():
                if not self.reconciled:
                    self._reconcile("retry")
                else:
                    self._apply(TimerFired())
            case Ping():
                return self.published
            case BlockEntries(blocked=blocked, reason=reason):
                self._apply(EntriesBlocked(blocked=blocked, reason=reason))
            case Resume(by=by):
                self._apply(QuarantineLifted(by=by))
                self._reconcile("resume")
            case _:
                self.log.warning("ignored unknown message {!r}", message)
        return None

    def _snapshot(self) -> GridReconciled:
        return gather(self.deps.exchange, self.state)

    # -- decide / commit / execute ----------------------------------------------------------
    def _apply(self, first: Any) -> None:
        correlation_id = ""
        pending: deque[Any] = deque([first])
        steps = 0
        while pending:
            steps += 1
            if steps > 1000:  # a bug must not become a loop that sends orders (incident 2)
                raise RuntimeError(f"grid decision loop did not settle after 1000 steps at {first!r}")
            event = pending.popleft()
            now = self.deps.clock()
            # results of this message's commands are applied before the orders are maintained
            decision = self.core.decide(self.state, event, now, maintain_after=not pending)
            if not decision.changed and decision.state == self.state:
                self.state = decision.state
                continue
            correlation_id = correlation_id or uuid.uuid4().hex[:16]
            self.deps.repo.commit_grid(self.symbol, self.incarnation, self.state, decision,
                                       correlation_id=correlation_id, created_at=now)
            self.state = decision.state
            for entry in decision.journal:
                self.log.info("{} {}", entry.type, entry.data)
            for command in decision.commands:
                pending.extend(self.executor.execute_grid(command))
        self._publish()

    def _publish(self) -> None:
        published = GridPublished(self.state, self.last_tick_at, self.reconciled)
        self.published = published
        if self.deps.views is not None:
            self.deps.views[self.symbol] = published

    @property
    def view(self) -> ActorView:
        p = self.published
        return grid_view(p.state, p.last_tick_at, p.reconciled)
