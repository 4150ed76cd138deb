"""Frozen parameters of a hedge grid (from `[strategy]` with name = "hedge_grid" and `[risk]`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.client_ids import check_fits, client_order_id
from trading.order_evidence import SEND_GRACE_S
from trading.orders import OrderPurpose
from trading.rules import (
    STOP_FAST_RETRIES,
    MarketRules,
    check_grace,
    close_backoff,
    doubling_wait,
)

RETRY_S = 2.0
"""Seconds before a refused grid order (a stop among them) is tried again."""
STOP_RETRY_MAX_S = 60.0
"""The longest wait of a stop refused again and again (`GridRules.stop_retry`)."""
OPEN_RETRY_MAX_S = 300.0
"""The longest wait after opening orders refused (or ended unfilled) again and again
(`GridRules.open_retry`), as the one-way core's entries (`RiskRules.entry_retry_max_s`)."""
REOPEN_AFTER_STOP_S = 10.0
"""The shortest wait of a stopped-out side (`risk.cooldown_after_loss_s`, when set, may be longer:
runtime/wiring.py `grid_reopen_after_stop_s`)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GridRules:
    symbol: str
    account: str
    id_tag: str
    market: MarketRules
    order_size_usdt: Decimal
    """Notional of a leg's opening entry; its quantity becomes the side's reference quantity."""
    levels: int
    """Averaging entries a leg may add after its opening entry."""
    step_pct: Decimal
    """Distance of the next level from the leg's anchor (last fill or recalculation price), %."""
    size_multiplier: Decimal
    """Level k adds ref_qty * size_multiplier**k."""
    take_profit_pct: Decimal
    """Take-profit distance from the leg's average entry, %."""
    stop_loss_pct: Decimal
    """Stop distance from the leg's opening price, %; beyond every grid level."""
    recalc_pct: Decimal
    """A pending level is cancelled and recomputed after the price moves this far (%) from the
    price it was computed from."""
    leverage: int
    retry_s: float = RETRY_S
    open_retry_s: float = 10.0
    reopen_after_stop_s: float = REOPEN_AFTER_STOP_S
    """A side stopped out waits this long before it opens again (and always for a fresh price)."""
    max_close_attempts: int = 5
    close_backoff_initial_s: float = 1.0
    close_backoff_max_s: float = 60.0
    adopt_unknown_positions: bool = True
    """False: a leg on the exchange that storage does not know is flagged (the symbol
    quarantined), never adopted, stopped, taken profit on or averaged into."""
    send_grace_s: float = SEND_GRACE_S
    """The venue's send grace, as the one-way `Rules.send_grace_s` (0: the in-process paper
    exchange, where a level or opening order not found is final at once)."""

    def __post_init__(self) -> None:
        check_fits(self.account, self.id_tag, self.symbol)
        check_grace(self.send_grace_s)

    def client_order_id(self, seq: int, purpose: OrderPurpose) -> str:
        """The one builder (trading/client_ids.py), as the one-way core uses it."""
        return client_order_id(self.account, self.id_tag, self.symbol, seq, purpose)

    def stop_retry(self, failures: int) -> float:
        """The wait before a leg's next stop (or take-profit) after `failures` refused in a
        row: retry_s for the first STOP_FAST_RETRIES, then doubling up to STOP_RETRY_MAX_S
        (found by review: a lasting refusal was re-sent every 2 s for ever, as in the one-way
        core)."""
        return doubling_wait(self.retry_s, failures - STOP_FAST_RETRIES,
                             max(self.retry_s, STOP_RETRY_MAX_S))

    def open_retry(self, refusals: int) -> float:
        """The wait before the next opening order after `refusals` in a row ended unfilled
        (refused, or cancelled by the venue): open_retry_s, doubling up to OPEN_RETRY_MAX_S,
        as the one-way core's entries (found by review: one cancelled unfilled was sent again
        at once, in the same decision, and a refused one every open_retry_s for ever)."""
        return doubling_wait(self.open_retry_s, refusals - 1,
                             max(self.open_retry_s, OPEN_RETRY_MAX_S))

    def close_backoff(self, attempts: int) -> float:
        return close_backoff(self.close_backoff_initial_s, attempts, self.close_backoff_max_s)
