"""The emergency close for a symbol whose actor cannot run (crash loop past the restart limit).

A separate path from the actor's: it reads the position from the exchange, cancels the symbol's
open orders except stops (the stop keeps protecting if this fails too), and sends one reduce-only
market order with a fresh client order id that is journaled before the call (write-ahead).
Runs on its own thread so the supervisor is never blocked on the exchange.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from exchange.port import ExchangePort
from exchange.records import VenuePosition
from storage.repository import Repository
from trading.client_ids import symbol_code


class EmergencyCloser:
    def __init__(self, *, exchange: ExchangePort, repo: Repository, prefix: str, logger: Any) -> None:
        self.exchange = exchange
        self.repo = repo
        self.prefix = prefix
        self.log = logger
        self._threads: list[threading.Thread] = []

    def close(self, symbol: str, reason: str) -> None:
        t = threading.Thread(target=self._run, args=(symbol, reason), name=f"emergency-{symbol}", daemon=True)
        self._threads.append(t)
        t.start()

    def wait(self, timeout: float = 30.0) -> None:
        for t in self._threads:
            t.join(timeout)

    def _close(self, symbol: str, pos: VenuePosition, reason: str, corr: str, log: Any) -> None:
        side = "sell" if pos.side == "long" else "buy"
        cid = f"{self.prefix}{symbol_code(symbol)}-z{pos.side[0]}{int(time.time()) % 10**7}"
        params: dict[str, Any] = {"clientOrderId": cid, "reduceOnly": True}
        if pos.hedged:
            params["positionIdx"] = pos.position_side.idx
        self.repo.record(symbol, "EmergencyCloseRequested",
                         {"order": cid, "reason": reason, "side": pos.side, "contracts": str(pos.contracts)},
                         correlation_id=corr)
        self.exchange.create_order(symbol, "market", side, pos.contracts, None, params)
        log.error("emergency close sent: {} {} ({})", side, pos.contracts, cid)

    def _run(self, symbol: str, reason: str) -> None:
        log = self.log.bind(symbol=symbol)
        corr = uuid.uuid4().hex[:16]
        try:
            positions = [p for p in self.exchange.fetch_positions([symbol])
                         if p.symbol == symbol and p.contracts > 0]
            if not positions:
                log.warning("emergency close: no position on the exchange")
                return
            for o in self.exchange.fetch_open_orders(symbol):
                if o.is_stop:
                    continue  # keep the protective stop
                self.exchange.cancel_order(o.id, symbol, {"clientOrderId": o.client_order_id})
            for pos in positions:  # one in one-way mode; one per leg in hedge mode
                self._close(symbol, pos, reason, corr, log)
        except Exception as exc:  # noqa: BLE001 - reported, never retried in a loop
            log.error("emergency close failed: {}", exc)
            self.repo.record(symbol, "EmergencyCloseFailed", {"error": str(exc)[:300]}, correlation_id=corr)
