"""Fault injection for the paper exchange, driven by tests through the port.

`exchange.faults.fail_next('create_order', 1, errors.RequestTimeout('...'), after_accept=True)`
makes the next matching create_order process and persist the order, then raise the timeout:
the case where the exchange accepted an order but the response was lost.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Fault:
    method: str
    remaining: int
    error: BaseException
    after_accept: bool
    match: Callable[[dict[str, Any]], bool] | None


class FaultInjector:
    """Thread-safe queue of scripted failures, consumed in the order they were added."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def fail_next(
        self,
        method: str,
        n: int,
        error: BaseException,
        *,
        after_accept: bool = False,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        if n <= 0:
            raise ValueError("n must be positive")
        with self._lock:
            self._faults.append(Fault(method, n, error, after_accept, match))

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> int:
        with self._lock:
            return sum(f.remaining for f in self._faults)

    def take(self, method: str, call: dict[str, Any]) -> Fault | None:
        """Consume and return the first fault for `method` whose `match` accepts `call`."""
        with self._lock:
            for fault in self._faults:
                if fault.method != method or fault.remaining <= 0:
                    continue
                if fault.match is not None and not fault.match(call):
                    continue
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                return fault
        return None
