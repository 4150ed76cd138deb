"""Units taken by the group-commit writer as one batch (one transaction), for the tests of what
a batch does: a first unit holds the writer thread until every unit is queued behind it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from storage.writer import GroupCommitWriter
from tests.support.waiting import wait_until


def one_batch(writer: GroupCommitWriter, units: Sequence[tuple[str, Callable[[], Any]]],
              while_queued: Callable[[], None] | None = None) -> dict[str, Any]:
    """Submit `units` ((name, work) pairs), each from its own thread, behind a unit "hold" that
    keeps the writer thread until all of them are queued, so the writer runs them as one batch;
    `while_queued` runs while they wait. Each name's outcome (with "hold"'s): its result,
    "committed" when that is None, or the exception its submit raised."""
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        inside.set()
        assert release.wait(10)

    outcome: dict[str, Any] = {}

    def caller(name: str, work: Callable[[], Any]) -> None:
        try:
            outcome[name] = writer.submit(work, timeout=10) or "committed"
        except Exception as exc:  # noqa: BLE001 - the outcome is the caller's to assert
            outcome[name] = exc

    holder = threading.Thread(target=caller, args=("hold", hold), daemon=True)
    holder.start()
    assert inside.wait(10)  # the writer thread runs `hold`; the units queue up behind it
    callers = [threading.Thread(target=caller, args=unit, daemon=True) for unit in units]
    for thread in callers:
        thread.start()
    wait_until(lambda: writer._queue.qsize() == len(units), timeout=10,  # noqa: SLF001
               message=f"all {len(units)} units queued behind the held one")
    if while_queued is not None:
        while_queued()
    release.set()
    for thread in (holder, *callers):
        thread.join(10)
    return outcome
