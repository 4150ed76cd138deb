"""Evidence before closing (issue 12): a position, or a hedge leg, is closed in our books only
on positive evidence from the exchange (its closing fill, its stop's fill, fills in the trade
history that account for it), never because a position list came back empty.

An empty list is what a venue answers in several harmless-looking ways: Bybit `retCode 0` with
`list: []`, or a malformed body that ccxt turns into `[]`. Taken as "closed", it booked the
position at 0 P&L and cancelled its stop while the real position stayed open (88.8 s without a
stop in the emulator run). So an absence without evidence is a *contradiction*: the position
stays tracked and protected (its stop is kept), the next reconciliation looks again, and when
the contradiction persists (ALERT_AFTER_RECONCILES answers or ALERT_AFTER_S seconds) the shell
raises an alert once. Pure: no clock, no I/O. The same episode (`Unconfirmed`) counts the
answers about one of our orders that were not evidence (trading/order_evidence.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Protocol, TypeVar

from trading.primitives import ZERO

ALERT_AFTER_RECONCILES = 3
"""Contradictory reconciliations in a row before the alert (one may be a venue hiccup)."""
ALERT_AFTER_S = 90.0
"""...or this long since the first one, whichever comes first (three periodic reconciles at
the default 30 s interval)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Unconfirmed:
    """The exchange lists no position where our books hold one, and nothing explains it."""

    since: float
    """When the first contradictory answer was decided."""
    count: int = 1
    """Contradictory answers in a row."""
    alerted: bool = False
    """The alert went out (once per contradiction episode)."""

    def again(self, now: float) -> Unconfirmed:
        del now  # the episode keeps its start; only the count grows
        return replace(self, count=self.count + 1)

    def alert_due(self, now: float) -> bool:
        if self.alerted:
            return False
        return self.count >= ALERT_AFTER_RECONCILES or now - self.since >= ALERT_AFTER_S


def note(previous: Unconfirmed | None, now: float) -> Unconfirmed:
    """One more contradictory answer (the first opens an episode)."""
    return Unconfirmed(since=now) if previous is None else previous.again(now)


def covered(contracts: Decimal, exit_amounts: Iterable[Decimal]) -> bool:
    """Whether fills on the closing side account for the whole position."""
    return sum(exit_amounts, ZERO) >= contracts > ZERO


def alert_reason(what: str, episode: Unconfirmed) -> str:
    return (
        f"{what}: the exchange lists no position but shows no fill that closed it "
        f"({episode.count} answers in a row); still tracked and protected, check the venue"
    )


class _Ordered(Protocol):
    @property
    def client_order_id(self) -> str: ...


class _Found(Protocol):
    @property
    def filled(self) -> Decimal: ...
    @property
    def last_fill_at(self) -> int | None: ...


T = TypeVar("T", bound=_Ordered)


def in_fill_order(orders: Sequence[T], found: Mapping[str, _Found]) -> list[T]:
    """Our orders in the order a reconciliation books them: as listed, except that those the
    exchange shows filled are booked in the order they filled there (each keeps one of their
    slots). Fills found together after a restart are not in creation order: a grid leg's
    take-profit, then the next level's add, then the old stop on the new leg; booked as listed,
    the stop and take-profit closed the old leg and the add opened a leg the exchange no longer
    had. When the venue gives no time for one of them, the listed order stands."""
    slots = [i for i, o in enumerate(orders)
             if (f := found.get(o.client_order_id)) is not None and f.filled > ZERO]
    times = {i: found[orders[i].client_order_id].last_fill_at for i in slots}
    if len(slots) < 2 or any(t is None for t in times.values()):
        return list(orders)
    out = list(orders)
    by_time = sorted(slots, key=lambda i: (times[i] or 0, i))
    for slot, i in zip(slots, by_time, strict=True):
        out[slot] = orders[i]
    return out
