"""The supervisor's emergency close in a backtest: what the running bot does on an escalation.

The live bot (supervision/supervisor.py `_on_escalation`, runtime/emergency.py) runs one
emergency close on every escalation that asks for it (`Escalate.close`): it reads the symbol's
positions from the exchange, cancels the symbol's open orders except its stops, sends one
reduce-only market order per position (hedge mode: per leg), each journaled
(`EmergencyCloseRequested`) before it is sent, then tells the symbol's actor to reconcile,
which books the closing fill from the exchange. Found by review: the backtest only counted
escalations, so the quarantined position stayed open until its stop filled or the data ended,
and the report's "escalation" exit row never appeared.

Here the same steps run on the replay's thread at market time, after the message whose
decision escalated (never inside it: the loop is handling that message). The client order id
is the emergency path's (`<prefix><code>-z<side><6 hex digits>x`), numbered instead of random
so every run is the same. Not modelled: the closer's own failures and retries (the simulated
exchange answers every call), the alert hooks, the kill switch.
"""

from __future__ import annotations

from typing import Any

from exchange.port import ExchangePort
from observability.error_text import describe
from trading.client_ids import symbol_code


class BacktestCloser:
    """Runs the emergency closes the repository has been asked for (`MemoryRepository.owed`)."""

    def __init__(self, exchange: ExchangePort, repo: Any, prefix: str, log: Any) -> None:
        self.exchange = exchange
        self.repo = repo
        self.prefix = prefix
        self.log = log
        self._seq = 0

    def close(self, symbol: str, reason: str) -> None:
        """runtime/emergency.py `_run_fenced`, in one step (no slices: the simulated markets
        have no maximum order amount). A close that fails is reported once, as live
        (`EmergencyCloseFailed`, an error line): never retried, the run goes on."""
        try:
            self._close(symbol, reason)
        except Exception as exc:  # noqa: BLE001 - reported, never retried in a loop (live too)
            self.log.error("emergency close failed: {}", describe(exc))
            self.repo.record(symbol, "EmergencyCloseFailed", {"error": str(exc)[:300]},
                             correlation_id=f"emergency-{self._seq}")

    def _close(self, symbol: str, reason: str) -> None:
        positions = [p for p in self.exchange.fetch_positions([symbol])
                     if p.symbol == symbol and p.contracts > 0]
        if not positions:
            return
        for o in self.exchange.fetch_open_orders(symbol):
            if not o.is_stop:  # the protective stop stays
                self.exchange.cancel_order(o.id, symbol, {"clientOrderId": o.client_order_id})
        for pos in positions:
            self._seq += 1
            cid = f"{self.prefix}{symbol_code(symbol)}-z{pos.side[0]}{self._seq:06x}x"
            params: dict[str, Any] = {"clientOrderId": cid, "reduceOnly": True}
            if pos.hedged:
                params["positionIdx"] = pos.position_side.idx
            self.repo.record(symbol, "EmergencyCloseRequested",
                             {"order": cid, "reason": reason, "side": pos.side,
                              "contracts": str(pos.contracts)},
                             correlation_id=f"emergency-{self._seq}")
            self.exchange.create_order(symbol, "market", "sell" if pos.side == "long" else "buy",
                                       pos.contracts, None, params)
