"""Closed trades rebuilt from what the cores recorded: journal (opened / closed, reason) and
ledger (every confirmed fill with its price and fee). Money stays Decimal."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backtest.memory_repo import MemoryRepository
from trading.client_ids import is_emergency

ZERO = Decimal(0)


def plain(value: Decimal) -> str:
    """A Decimal as JSON text: plain decimal notation, every digit kept, "-0" as "0". Found by
    review: str() wrote "1E-8", "0E-8", "1.5E-7" or "4E+1" for some figures and plain text for
    others, so a program reading the report got number text of two kinds."""
    if value.is_zero():
        value = value.copy_abs()
    return format(value, "f")
EXIT_KINDS = {
    "stop_loss": "stop", "stop_loss_bot": "stop", "trailing_stop": "trailing stop",
    "take_profit": "take-profit", "emergency_close": "escalation",
    "closed_on_exchange": "closed on exchange",  # found closed by reconciliation: its stop
    # filled while no one looked, a liquidation, a close by hand (not the strategy's exit)
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Trade:
    symbol: str
    position_id: str
    side: str
    opened_at: float
    closed_at: float
    contracts: Decimal
    entry_price: Decimal
    exit_price: Decimal
    gross: Decimal
    fees: Decimal
    net: Decimal
    reason: str
    """What the core said (stop_loss, trailing_stop, take_profit, mean_reverted, ...)."""
    emergency: bool = False
    """Closed by the supervisor's emergency close (backtest/emergency.py), told by the client id
    of the fill that closed it; the core books such a close as `emergency_close` too."""

    @property
    def exit_kind(self) -> str:
        """The report's exit category: stop, trailing stop, take-profit, strategy exit,
        escalation, closed on exchange."""
        if self.emergency:
            return "escalation"
        return EXIT_KINDS.get(self.reason, "strategy exit")

    @property
    def hold_s(self) -> float:
        return self.closed_at - self.opened_at

    def as_dict(self) -> dict[str, object]:
        return {"symbol": self.symbol, "position_id": self.position_id, "side": self.side,
                "opened_at": self.opened_at, "closed_at": self.closed_at,
                "contracts": plain(self.contracts), "entry_price": plain(self.entry_price),
                "exit_price": plain(self.exit_price), "gross_pnl": plain(self.gross),
                "fees": plain(self.fees), "net_pnl": plain(self.net), "reason": self.reason,
                "exit": self.exit_kind}


def _avg(fills: list[tuple[Decimal, Decimal]]) -> tuple[Decimal, Decimal]:
    qty = sum((q for q, _ in fills), ZERO)
    if qty == ZERO:
        return ZERO, ZERO
    return qty, sum((q * p for q, p in fills), ZERO) / qty


def closed_trades(rec: MemoryRepository) -> list[Trade]:
    """One trade per closed position (one-way) or closed leg (hedge grid), in closing order."""
    opened: dict[str, tuple[float, str]] = {}
    fills: dict[str, list[tuple[str, Decimal, Decimal]]] = {}
    emergency: set[str] = set()  # position ids an emergency close's fill closed
    for _, _, booked in rec.ledger:
        fills.setdefault(booked.position_id, []).append((booked.side, booked.amount, booked.price))
        if is_emergency(booked.client_order_id):
            emergency.add(booked.position_id)
    trades: list[Trade] = []
    for now, symbol, j in rec.journal:
        d = j.data
        if j.type in ("PositionOpened", "LegOpened"):
            opened.setdefault(d["position_id"], (now, str(d.get("side") or d.get("leg"))))
        elif j.type in ("PositionClosed", "LegClosed"):
            pid = d["position_id"]
            side = str(d.get("side") or d.get("leg"))
            at = opened.pop(pid, (now, side))[0]
            buy = side == "long"
            own = fills.get(pid, [])
            qty, entry = _avg([(q, p) for s, q, p in own if (s == "buy") == buy])
            _, exit_ = _avg([(q, p) for s, q, p in own if (s == "buy") != buy])
            trades.append(Trade(
                symbol=symbol, position_id=pid, side=side, opened_at=at, closed_at=now,
                contracts=qty, entry_price=entry, exit_price=exit_,
                gross=Decimal(d["realized_pnl"]), fees=Decimal(d["fees"]),
                net=Decimal(d["net_pnl"]), reason=str(d["reason"]),
                emergency=pid in emergency))
    return trades


def open_since(rec: MemoryRepository) -> list[float]:
    """When each position (one-way) or leg (hedge grid) still open at the end was opened (the
    journal's PositionOpened / LegOpened without its close), in opening order."""
    opened: dict[str, float] = {}
    for now, _, j in rec.journal:
        if j.type in ("PositionOpened", "LegOpened"):
            opened.setdefault(j.data["position_id"], now)
        elif j.type in ("PositionClosed", "LegClosed"):
            opened.pop(j.data["position_id"], None)
    return list(opened.values())
