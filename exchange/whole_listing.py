"""Whether the account-wide open-order list being read must be whole, or may be read in part.

Why: Bybit pages the account's open orders (50 a page, newest first) and the gateway reads at
most MAX_OPEN_PAGES of them (exchange/ccxt/lookup.py), 2,000 orders; a grid account of 150
symbols holds more. For the sweep a list read in part is still worth its rows (it says so in
a warning). The first reconciliations at a live start (actors/first_read.py) take each
symbol's open orders from that list as the whole truth: served from a list cut short, a
symbol whose order nobody owns was among the older ones left unread never saw it, and the
order was left resting (incident 9; found by review). Inside `whole()`, such a list is an
error instead (a permanent one: read again, it is cut again), so each symbol reads its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_WHOLE: ContextVar[bool] = ContextVar("whole_listing", default=False)


@contextmanager
def whole() -> Iterator[None]:
    """The enclosed account-wide listings must be read whole, or fail."""
    token = _WHOLE.set(True)
    try:
        yield
    finally:
        _WHOLE.reset(token)


def required() -> bool:
    """Whether a listing read now must be whole (`whole`)."""
    return _WHOLE.get()
