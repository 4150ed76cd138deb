"""Plain data of the signal receiver: a validated signal and the outcome of handling one."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from actors.messages import ExternalSignal
from trading.model import Side

BOT_SYMBOL = "signals"
"""Journal symbol for rejections that name no configured symbol (malformed, unknown symbol)."""


class Rejected(Exception):
    """A signal that is refused; `status` is the HTTP status that reports it."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalRequest:
    signal_id: str
    symbol: str
    side: Side | None
    """None means exit."""
    size_usdt: Decimal | None = None
    stop: Decimal | None = None
    take_profit: Decimal | None = None
    expires_at: Decimal | None = None
    """Epoch seconds."""

    @property
    def is_entry(self) -> bool:
        return self.side is not None

    @property
    def side_name(self) -> str:
        return "exit" if self.side is None else self.side.value

    def to_external(self, source: str, received_at: float | None = None,
                    max_age_s: float | None = None) -> ExternalSignal:
        """The actor's message: it expires at its own `expires_at` or, an entry, at
        `received_at` + `max_age_s` (signals.max_age_s), whichever comes first; `max_age_s` is
        carried when that bound is the one that applies, for the skip's reason."""
        expires_at = None if self.expires_at is None else float(self.expires_at)
        aged = None
        # an exit is never stale by age: skipped, it would leave open a position its sender
        # was told (202) would be closed; only its own expires_at can end it
        if self.is_entry and received_at is not None and max_age_s is not None and (
                expires_at is None or received_at + max_age_s < expires_at):
            expires_at, aged = received_at + max_age_s, max_age_s
        return ExternalSignal(side=self.side, signal_id=self.signal_id, size_usdt=self.size_usdt,
                              reason=f"signal:{source}", expires_at=expires_at, max_age_s=aged)

    def journal_data(self) -> dict[str, Any]:
        def s(v: Decimal | None) -> str | None:
            return None if v is None else str(v)

        return {"signal_id": self.signal_id, "symbol": self.symbol, "side": self.side_name,
                "size_usdt": s(self.size_usdt), "stop": s(self.stop),
                "take_profit": s(self.take_profit), "expires_at": s(self.expires_at)}


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What became of one signal. `status`: accepted, duplicate, rejected, skipped or error."""

    status: str
    http_status: int
    signal_id: str | None = None
    reason: str | None = None

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"status": self.status}
        if self.signal_id is not None:
            out["id"] = self.signal_id
        if self.reason is not None:
            out["reason"] = self.reason
        return out
