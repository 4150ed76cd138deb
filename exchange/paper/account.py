"""The account's balance: wallet plus per-symbol margin and unrealized P&L contributions.

Guarded by one short lock. Per-symbol contributions are replaced whenever a symbol's book
changes, so free balance is O(1) to read under hundreds of concurrent symbols. `version`
counts the changes: a caller that read the free balance outside the lock (matching a price
point) commits only if it is unchanged, under the lock (check-and-reserve in one step).
"""

from __future__ import annotations

import threading
from decimal import Decimal

ZERO = Decimal(0)


class Account:
    def __init__(self, wallet: Decimal) -> None:
        self.lock = threading.RLock()
        self.wallet = wallet
        self._used: dict[str, Decimal] = {}
        self._unrealized: dict[str, Decimal] = {}
        self._used_total = ZERO
        self._unrealized_total = ZERO
        self.version = 0
        """Bumped by every change of the wallet or a symbol's contribution (under `lock`)."""

    def set_wallet(self, wallet: Decimal) -> None:
        """Replace the wallet balance (caller holds `lock`)."""
        self.wallet = wallet
        self.version += 1

    def set_symbol(self, symbol: str, used: Decimal, unrealized: Decimal) -> None:
        """Replace one symbol's contribution (caller holds `lock`); the same again (a
        catch-up the price did not move) is no change."""
        if used == self._used.get(symbol) and unrealized == self._unrealized.get(symbol):
            return
        self._used_total += used - self._used.get(symbol, ZERO)
        self._unrealized_total += unrealized - self._unrealized.get(symbol, ZERO)
        self._used[symbol] = used
        self._unrealized[symbol] = unrealized
        self.version += 1

    def free(self) -> Decimal:
        with self.lock:
            return self.wallet + self._unrealized_total - self._used_total

    def totals(self) -> tuple[Decimal, Decimal, Decimal]:
        """(wallet, used, unrealized), summed afresh (exact)."""
        with self.lock:
            used = sum(self._used.values(), ZERO)
            unrealized = sum(self._unrealized.values(), ZERO)
            return self.wallet, used, unrealized
