"""An exchange port wrapper for fault tests, injected through the constructor like the real one.

It forwards every call to the wrapped exchange and lets a test run a hook before or after a
method (raise a bug, block the thread, count calls)."""

from __future__ import annotations

import threading
from typing import Any, Callable

Hook = Callable[[str, tuple, dict], None]


class FaultyExchange:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.id = inner.id
        self.before: dict[str, Hook] = {}
        self.after: dict[str, Callable[[str, tuple, dict, Any], None]] = {}
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target) or name.startswith("_"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] = self.calls.get(name, 0) + 1
            if name in self.before:
                self.before[name](name, args, kwargs)
            result = target(*args, **kwargs)
            if name in self.after:
                self.after[name](name, args, kwargs, result)
            return result

        return call


def params_of(args: tuple, kwargs: dict) -> dict:
    if "params" in kwargs:
        return kwargs["params"] or {}
    return (args[5] if len(args) > 5 else {}) or {}


def is_close_order(args: tuple, kwargs: dict) -> bool:
    """A reduce-only market order that is not a stop: a close or an emergency close."""
    p = params_of(args, kwargs)
    return bool(p.get("reduceOnly")) and "stopLossPrice" not in p
