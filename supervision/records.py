"""The supervisor's own records in storage (restart counts, quarantines, escalations, the kill
switch) are written best effort: a database that fails or times out there must not stop what
the record is about (a restart, an emergency close, an alert, blocking entries). Found by a CI
run: a restart count that timed out left a taken-over account's actor stopped for good."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def store(log: Any, what: str, *writes: Callable[[], object]) -> bool:
    """Run `writes` in order; the first that raises is logged (naming `what`) and ends them."""
    for write in writes:
        try:
            write()
        except Exception as exc:  # noqa: BLE001 - logged; what the record is about goes on
            log.error("{} not stored: {}", what, exc)
            return False
    return True
