"""Routing external signals between accounts: one SignalRouter per account behind one receiver.

A signal names its symbol and, optionally, its ``account``. The account is required when more
than one account trades the symbol; an unknown account, or one that does not trade the symbol,
is refused with the reason. Each account's router then does everything else (duplicates,
validation, expiry, its own wave and open-position limits, journal in the account's database,
delivery to the account's actor). Signal ids are unique across accounts: an id any account has
already received is answered as a duplicate by that account. The claim is atomic: the dispatcher
remembers which account took an id (under its lock, only for the check and the claim), so the
same id sent to two accounts at the same moment is handled by one and a duplicate for the other.
Refusals that belong to no account are journaled by the first account (under the symbol
``signals``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from signals import parsing
from signals.model import Outcome, Rejected
from signals.router import MEMORY_IDS, SignalRouter


class AccountDispatcher:
    """The receiver's handler (``handle_raw``/``handle``, as a SignalRouter) for several
    accounts."""

    def __init__(self, routers: Mapping[str, SignalRouter], logger: Any) -> None:
        if not routers:
            raise ValueError("at least one account")
        self.routers = dict(routers)
        self.default = next(iter(self.routers.values()))
        self.log = logger
        self.owners: dict[str, list[str]] = {}
        self._lock = threading.Lock()
        self._claims: OrderedDict[str, SignalRouter] = OrderedDict()
        """Which account took an id (the last MEMORY_IDS); forgotten when its handling failed
        or it was rejected."""
        for name, router in self.routers.items():
            for symbol in router.symbols:
                self.owners.setdefault(symbol, []).append(name)

    def flush_rejections(self, due_only: bool = False) -> None:
        for router in self.routers.values():
            router.flush_rejections(due_only)

    def stop_waiting(self) -> None:
        for router in self.routers.values():
            router.stop_waiting()

    @property
    def symbols(self) -> frozenset[str]:
        return frozenset(self.owners)

    def handle_raw(self, raw: bytes | str, source: str, received: float | None = None) -> Outcome:
        try:
            obj = parsing.decode(raw)
        except Rejected:
            return self.default.handle_raw(raw, source)  # it answers and journals the bad JSON
        return self.handle(obj, source, received)

    def handle(self, obj: Any, source: str, received: float | None = None) -> Outcome:
        sid = self._signal_id(obj)
        try:
            router = self._claim(sid, obj)
        except Rejected as rej:
            return self.default.refuse(obj, rej, source)
        except Exception as exc:  # noqa: BLE001 - a bad signal must never take the receiver down
            self.log.opt(exception=exc).error("signal from {} could not be routed: {}", source, exc)
            return Outcome(
                status="error", http_status=500, reason=f"internal error: {type(exc).__name__}"
            )
        outcome = router.handle(obj, source, received)
        if sid is not None and outcome.status in ("error", "rejected", "skipped"):
            with self._lock:  # it claimed nothing (signals/router.py): a retry is routed again
                if self._claims.get(sid) is router:
                    del self._claims[sid]
        return outcome

    def _signal_id(self, obj: Any) -> str | None:
        if len(self.routers) == 1:
            return None  # the one router finds its duplicates itself
        try:
            return parsing.signal_id_of(obj)
        except Rejected:
            return None

    def _claim(self, sid: str | None, obj: Any) -> SignalRouter:
        """The router for this signal: the account that already took its id, else the one it is
        routed to, which takes the id here. The journal look-ups (``knows``) run before the lock;
        the lock covers only the in-memory check and the claim."""
        if sid is None:
            return self._route(obj)
        known = next((r for r in self.routers.values() if r.knows(sid)), None)
        with self._lock:
            router = self._claims.get(sid) or known or self._route(obj)
            self._claims[sid] = router
            self._claims.move_to_end(sid)
            while len(self._claims) > MEMORY_IDS:
                self._claims.popitem(last=False)
        return router

    def _route(self, obj: Any) -> SignalRouter:
        if not isinstance(obj, dict):
            return self.default  # it rejects the shape
        raw_symbol = obj.get("symbol")
        symbol = raw_symbol.strip() if isinstance(raw_symbol, str) else None
        owners = self.owners.get(symbol, []) if symbol else []
        account = obj.get("account")
        if account is not None:
            name = account.strip() if isinstance(account, str) else None
            if name not in self.routers:
                raise Rejected(
                    f"account: unknown account {str(account)[:32]!r} "
                    f"(configured: {', '.join(self.routers)})",
                    422,
                )
            if owners and name not in owners:
                raise Rejected(
                    f"account: {name} does not trade {symbol} (traded by: {', '.join(owners)})", 422
                )
            return self.routers[name]
        if symbol and not owners and len(self.routers) > 1:  # the first account's list: not all
            raise Rejected(parsing.unknown_symbol(symbol, self.owners), 422)
        if len(owners) > 1:
            raise Rejected(
                f"account: required, {symbol} is traded by more than one account "
                f"({', '.join(owners)})",
                400,
            )
        if len(owners) == 1:
            return self.routers[owners[0]]
        return self.default  # it rejects the unknown symbol (or the missing one)
