"""The entry gate's verdict, pure: may this symbol open a position now, given the account's facts?

Every way into a position (a strategy signal, an external signal, a hedge-grid leg opening) asks
the same question through `Ctx.admit`; the account-level holder of the facts and of the
open-position count is `actors/entry_gate.py`. Later protections (daily loss limit, drawdown)
plug in as `EntryCheck`s: each is asked for every entry and may return a refusal reason. A cap on
what the account holds (the venue's stop capacity) is a `HeldLimit` instead: it is judged on the
gate's count under the gate's lock, as `risk.max_open_positions` is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

NOT_RECONCILED = "not reconciled with the exchange yet"
"""The refusal before the symbol's first successful reconciliation: it ends with that
reconciliation (whose own decision may enter), not after a wait (trading/grid/maintain.py).
Also the refusal after a reconciliation failed (an exchange error), until one succeeds."""
ASIDE_GRACE_S = 60.0
"""How long after the first of a row of set-aside reconciliations (each yielded to an order
report or a crossing price: actors/reconcile_retry.py `set_aside`) entries still go on the facts
of the last verified reconciliation and the reports and stream updates since. A set-aside is no
failure and found nothing wrong; blocking entries at once skipped 14 signals in one live chaos
run for no reason. Past this the facts are too old to enter on (FACTS_STALE)."""
FACTS_STALE = (f"facts stale: the reconciliation owed has been set aside for over "
               f"{ASIDE_GRACE_S:.0f}s (entries wait until it succeeds)")
"""The refusal once a row of set-aside reconciliations lasted ASIDE_GRACE_S: it ends with the
reconciliation that succeeds, as NOT_RECONCILED does."""


class EntryCheck(Protocol):
    """One extra protection; `refuse` returns why the entry must not happen, or None."""

    name: str

    def refuse(self, symbol: str, now: float) -> str | None: ...


class HeldLimit(Protocol):
    """An account-wide cap on positions held, judged on the count the gate reserves against.
    Found by review: the venue's stop capacity was an `EntryCheck`, which reads the count before
    the gate's lock; a wave of entries all read the same count and all passed, more positions
    than the venue holds stops for. `refuse_held` is arithmetic only (it runs under the lock)."""

    name: str

    def refuse_held(self, symbol: str, held: int) -> str | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryFacts:
    """What the gate knows about the account and the symbol when an entry is asked for."""

    symbol: str
    """The symbol that wants to open a position."""
    kind: str
    """Which way in: "signal" (strategy or external) or "grid_leg"."""
    kill_switch: bool
    """Entries are blocked account-wide (kill switch tripped, or shutting down)."""
    reconciled: bool
    """This symbol's state has been compared with the exchange since its actor started, and
    no reconciliation failed since the last that succeeded."""
    facts_stale: bool = False
    """The reconciliation owed has been set aside for longer than ASIDE_GRACE_S."""
    margin: Decimal | None = None
    """Margin this entry needs (None: the core does not say)."""


def waits_for_reconciliation(reason: str | None) -> bool:
    """Whether a refusal ends with the next successful reconciliation (no retry wait)."""
    return reason in (NOT_RECONCILED, FACTS_STALE)


def refusal(facts: EntryFacts, checks: Iterable[EntryCheck], now: float) -> str | None:
    """The first reason to refuse, from the account facts and then each registered check."""
    if facts.kill_switch:
        return "entries are blocked account-wide (kill switch or shutdown)"
    if not facts.reconciled:
        return NOT_RECONCILED
    if facts.facts_stale:
        return FACTS_STALE
    for check in checks:
        reason = check.refuse(facts.symbol, now)
        if reason is not None:
            return f"{check.name}: {reason}"
    return None


def margin_refusal(free: Decimal | None, margin: Decimal | None) -> str | None:
    """An entry needing more `margin` than the account's `free` margin (what the last balance
    read found, less what entries admitted since hold of it); None: it fits, or either is
    unknown (a stale read must not hold entries back for ever: the venue still refuses)."""
    if free is None or margin is None or free >= margin:
        return None
    return f"free margin {free:.2f} < {margin:.2f} needed"


def held_refusal(
    symbol: str, held: int, max_open_positions: int | None, limits: Iterable[HeldLimit]
) -> str | None:
    """The account-wide caps on `held` (open positions and entries in flight): the position
    cap, then each `HeldLimit`."""
    reason = cap_refusal(held, max_open_positions)
    for limit in limits:
        if reason is not None:
            break
        why = limit.refuse_held(symbol, held)
        reason = None if why is None else f"{limit.name}: {why}"
    return reason


def cap_refusal(open_positions: int, max_open_positions: int | None) -> str | None:
    """The position cap; `open_positions` counts open positions and entries in flight."""
    if max_open_positions is not None and open_positions >= max_open_positions:
        return (
            f"risk.max_open_positions {max_open_positions} reached "
            f"({open_positions} open or entering)"
        )
    return None
