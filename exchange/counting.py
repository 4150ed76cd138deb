"""Calls through the exchange port counted by method, and the errors they raised by kind.

Wraps whichever port the account uses (paper, ccxt gateway), so `/metrics` shows the same
figures for both: `bot_exchange_calls_total{method}` and `bot_exchange_errors_total{kind}` (our
error classes from exchange/errors.py, e.g. RateLimited, RequestTimeout, InvalidOrder). Every
other attribute is the wrapped port's own, so capability checks (`getattr(port, "poll_updates",
None)`) see what the port really offers."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

PORT_METHODS = frozenset({
    "load_markets", "market", "fetch_tickers", "create_order", "cancel_order", "fetch_order",
    "fetch_open_orders", "fetch_positions", "fetch_balance", "fetch_my_trades", "poll_updates",
    "place_stop", "move_stop", "amend_stop", "fetch_funding_history", "set_leverage",
})


class CountingPort:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self._lock = threading.Lock()  # a counter update: a few instructions, never across I/O
        self._calls: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name not in PORT_METHODS or not callable(attr):
            return attr
        counted = self._counted(name, attr)
        setattr(self, name, counted)  # built once: later calls find it without __getattr__
        return counted

    def _counted(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            error: str | None = None
            try:
                return method(*args, **kwargs)
            except Exception as exc:
                error = type(exc).__name__
                raise
            finally:
                with self._lock:
                    self._calls[name] += 1
                    if error is not None:
                        self._errors[error] += 1
        return call

    def counts(self) -> dict[str, dict[str, int]]:
        """{"calls": {method: n}, "errors": {kind: n}} so far."""
        with self._lock:
            return {"calls": dict(self._calls), "errors": dict(self._errors)}
