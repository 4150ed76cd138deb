"""The account's entry gate: one per account, shared by all of its symbols' decision loops.

It holds the account-level facts the pure verdict (trading/gate.py) needs: how many positions
are open or entering across the account's symbols, the kill switch, the last known free margin
and the registered `EntryCheck`s (daily loss limit, drawdown, ...).

Concurrency (incident 5: no lock shared between symbols may be held across I/O). The only lock
here guards the count: `admit` takes it to compare the count with the account-wide caps
(`risk.max_open_positions`, each `HeldLimit` such as the venue's stop capacity: arithmetic) and
the entry's margin with the free margin (the last balance read, actors/balance_watch.py, less
what entries admitted since hold of it), and for the increments, `settle` for three
assignments; nothing inside it calls out (no I/O, no
logging, no `EntryCheck`). The checks and the facts are evaluated before the lock is taken. So a
wave of signals on many symbols is never serialised behind another symbol's exchange call or
database write, and no cap on the count is judged on a count read outside the lock (a wave
would all read the same one and all pass).

Reservations: `admit` reserves one slot for the symbol before the entry order is committed;
after every committed decision the loop calls `settle(symbol, exposure)` with what the symbol's
state now holds (open positions + entries in flight), which keeps a reservation that became an
entry, and releases one whose entry was refused later in the decision, failed, or whose position
closed. A decision that raises before its commit settles to the old state's exposure, releasing
its reservation. The account seeds the gate from storage before any actor starts (open positions
and entries possibly in flight, storage/queries.py `open_positions_of`), and each loop settles
its restored state on start, so a restart counts what the symbols held, also for a symbol whose
actor cannot start. A symbol whose stored state cannot be read holds every slot of its style
(`exposure_of`) until a person resumes it: it may hold a position nobody can see.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from storage.restore import STYLE_SLOTS, quarantined_unreadable
from trading.gate import (
    EntryCheck,
    EntryFacts,
    HeldLimit,
    held_refusal,
    margin_refusal,
    refusal,
)


def exposure_of(core: Any, state: Any) -> int:
    """What a symbol holds of the account's cap: the core's exposure, but every slot of its
    style while it is quarantined because its stored state could not be read (a person fixed
    the row, the actor started, nobody resumed it yet): that state may not be all it holds."""
    exposure = int(core.exposure(state))
    if quarantined_unreadable(state):
        return max(exposure, STYLE_SLOTS.get(core.style, 1))
    return exposure


class AccountGate:
    def __init__(
        self,
        *,
        max_open_positions: int | None,
        kill_switch: Callable[[], bool] = lambda: False,
        checks: Iterable[EntryCheck] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_open_positions = max_open_positions
        self.kill_switch = kill_switch
        self.checks: list[EntryCheck] = list(checks)
        self.limits: list[HeldLimit] = []
        self.clock = clock
        self.free_margin: Decimal | None = None
        """Last free margin read (actors/balance_watch.py; None: unknown)."""
        self.margin_max_age_s: float | None = None
        """A free margin read longer ago than this is unknown: not checked (None: no limit)."""
        self._margin_at = 0.0
        self._spent: list[tuple[int, str, Decimal]] = []
        """(admission number, symbol, margin) of each entry admitted against the last read,
        which that read could not have seen: a wave of entries shares one read, not each the
        whole. A slot the symbol gives back (its entry failed) gives its margin back too."""
        self._admits = 0
        self._lock = threading.Lock()
        self._held: dict[str, int] = {}
        self._open = 0
        self._incarnation: dict[str, int] = {}
        """The newest actor incarnation seen per symbol: a replaced one (a zombie) can neither
        reserve nor settle (fencing covers the gate as it covers commits)."""

    def add_check(self, check: EntryCheck) -> None:
        """Register a protection; it is asked for every later entry of every symbol."""
        self.checks = [*self.checks, check]  # copy-on-write: admit iterates without a lock

    def add_limit(self, limit: HeldLimit) -> None:
        """Register an account-wide cap on the count, judged under the lock with it."""
        self.limits = [*self.limits, limit]

    def margin_read_started(self) -> int:
        """Asked just before a balance read; `note_free_margin` is told it with the answer."""
        with self._lock:
            return self._admits

    def note_free_margin(self, free: Decimal | None, started: int | None = None) -> None:
        """The account's free margin as a balance read that began at `started` (None: now)
        found it; entries admitted since that read began still hold their margin of it."""
        with self._lock:
            self.free_margin, self._margin_at = free, self.clock()
            since = self._admits if started is None else started
            self._spent = [spent for spent in self._spent if spent[0] > since]

    def _free_now(self, now: float) -> Decimal | None:
        """The free margin entries may still use (under the lock); None: unknown or stale."""
        age = self.margin_max_age_s
        if self.free_margin is None or (age is not None and now - self._margin_at > age):
            return None
        return self.free_margin - sum((m for _, _, m in self._spent), Decimal(0))

    def admit(
        self,
        symbol: str,
        kind: str,
        *,
        reconciled: bool,
        margin: Decimal | None = None,
        incarnation: int = 0,
        facts_stale: bool = False,
    ) -> str | None:
        """None: admitted, one slot reserved for `symbol`. Otherwise the reason it is refused.
        `reconciled`, `facts_stale`: see trading/gate.py `EntryFacts`."""
        facts = EntryFacts(
            symbol=symbol,
            kind=kind,
            kill_switch=self.kill_switch(),
            reconciled=reconciled,
            facts_stale=facts_stale,
            margin=margin,
        )
        now = self.clock()
        reason = refusal(facts, self.checks, now)
        if reason is not None:
            return reason
        with self._lock:  # a few compares and increments: never held across anything else
            if incarnation < self._incarnation.get(symbol, 0):
                return "this actor incarnation was replaced"
            reason = held_refusal(symbol, self._open, self.max_open_positions, self.limits)
            reason = reason or margin_refusal(self._free_now(now), margin)
            if reason is None:
                self._held[symbol] = self._held.get(symbol, 0) + 1
                self._open += 1
                if margin is not None:
                    self._admits += 1
                    self._spent.append((self._admits, symbol, margin))
        return reason

    def seed(self, open_positions: dict[str, int]) -> None:
        """What each symbol holds as storage has it, before the actors start (open positions
        and entries possibly in flight, storage/queries.py `open_positions_of`): a symbol whose
        actor cannot start (unreadable state, crash loop) still counts them; each actor that
        starts settles its own count from its restored and reconciled state."""
        for symbol, count in open_positions.items():
            self.settle(symbol, count)

    def settle(self, symbol: str, exposure: int, incarnation: int = 0) -> None:
        """The symbol now holds `exposure` positions or entries in flight (keeps or releases
        what `admit` reserved). Ignored from an incarnation older than one already seen."""
        with self._lock:
            if incarnation < self._incarnation.get(symbol, 0):
                return
            self._incarnation[symbol] = incarnation
            given_back = self._held.get(symbol, 0) - exposure
            self._open -= given_back
            self._held[symbol] = exposure
            if given_back > 0:  # its newest reservations (found by review: a failed entry
                self._give_back(symbol, given_back)  # held its margin until the next read)

    def _give_back(self, symbol: str, count: int) -> None:
        """Drop the symbol's `count` newest margin reservations (under the lock): a failed
        entry's, or a closed position's while the read from before its open still stands (its
        margin is free again). One closed after a read that saw it open has none left: that
        read understates the free margin until the next one."""
        mine = [i for i, spent in enumerate(self._spent) if spent[1] == symbol][-count:]
        self._spent = [spent for i, spent in enumerate(self._spent) if i not in mine]

    def open_positions(self) -> int:
        """Open positions plus entries in flight across the account."""
        return self._open

    def held(self) -> dict[str, int]:
        with self._lock:
            return {s: n for s, n in self._held.items() if n}
