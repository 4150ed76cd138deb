"""What every symbol actor's shell does the same way, whichever core it wraps (the one-way
SymbolActor, the hedge grid's GridActor): report a crash to the supervisor, turn fill reports
into events by looking the orders up, and reconcile (as a message like any other)."""

from __future__ import annotations

from typing import Any

from actors.command_executor import describe
from actors.messages import OrderActivity
from actors.order_results import events_for
from trading.model import OrderStatus


class ShellMixin:
    """Needs: symbol, incarnation, state (with `.order(cid)`), reconciled, deps, log,
    `_apply(event)`, `_publish()` and `_snapshot()` (the core's reconciliation event)."""

    symbol: str
    incarnation: int
    state: Any
    reconciled: bool
    deps: Any
    log: Any
    waiting_note = "entries wait until it succeeds"
    """Said when a reconciliation fails: what the symbol does meanwhile."""

    def on_failure(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        self.log.opt(exception=(exc_type, exc, tb)).error("crashed: {}", describe(exc) if exc else exc_type)
        self.deps.report(self.symbol, self.incarnation, "crashed", exc)

    def _activity(self, message: OrderActivity) -> None:
        """The exchange reported fills: look each of our orders up and apply what it says."""
        if message.unknown:
            self._reconcile("unknown fill")
        for cid in message.client_order_ids:
            order = self.state.order(cid)
            if order is None:
                continue
            try:
                found = self.deps.exchange.fetch_order(order.exchange_id, self.symbol, {"clientOrderId": cid})
            except Exception as exc:  # noqa: BLE001 - the next reconciliation catches up
                self.log.warning("fetch_order {} failed: {}", cid, describe(exc))
                continue
            for event in events_for(cid, found, pending=order.status is OrderStatus.PENDING):
                self._apply(event)

    def _reconcile(self, reason: str) -> None:
        try:
            snapshot = self._snapshot()
        except Exception as exc:  # noqa: BLE001 - exchange unreachable: trade nothing new, retry
            self.reconciled = False
            self.log.warning("reconciliation ({}) failed: {}; {}", reason, describe(exc), self.waiting_note)
            self._publish()
            return
        self._apply(snapshot)
        self.reconciled = True
        self._publish()
