"""Bookkeeping for one supervised symbol actor."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pykka

from actors.messages import OrderActivity
from supervision.restart_policy import RestartHistory
from supervision.resume_ticket import ResumeTicket

RESTART_DURATIONS_KEPT = 64
"""How many of the latest restarts' durations a child keeps (a symbol restarting all through a
long run must not grow a list for good; found by review)."""


class ChildState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    BACKING_OFF = "backing_off"
    QUARANTINED = "quarantined"
    STOPPED = "stopped"


def open_for(state: ChildState, message: object) -> bool:
    """Whether `Supervisor.tell` delivers `message` to an actor in `state`: a running one
    anything; a starting one an order report only, handled right after its start (it sets the
    start's reconciliation aside meanwhile). A soak: a stop removed while its actor was still
    starting (~100 s under a short rate budget) was reported by the order stream, dropped as
    "not running", and found by that reconciliation 78 s later. Prices and signals still wait
    for the start to be reported: a price handled early made the actor look ready (view
    reconciled and ticking) while its signals were still refused as "not running"."""
    if state is ChildState.RUNNING:
        return True
    return state in (ChildState.STARTING, ChildState.RESTARTING) and isinstance(
        message, OrderActivity)


@dataclass(slots=True)
class Child:
    symbol: str
    ref: pykka.ActorRef | None = None
    state: ChildState = ChildState.STARTING
    incarnation: int = 0
    history: RestartHistory = field(default_factory=RestartHistory)
    restarts: int = 0
    restart_at: float | None = None
    failed_at: float | None = None
    started_at: float | None = None
    last_failure: dict[str, Any] | None = None
    ping: Any = None
    ping_sent_at: float | None = None
    dead_at: float | None = None
    """When (monotonic) the heartbeat first found this incarnation's actor dead while it was
    still running here (its failure report, if one comes, is handled meanwhile)."""
    restart_durations: deque[float] = field(
        default_factory=lambda: deque(maxlen=RESTART_DURATIONS_KEPT))
    """Seconds from each failure to the restarted actor's start, the latest ones."""
    strategy_off: str | None = None
    """Why the running incarnation's strategy is off (it raised: actors/strategy_guard.py),
    until a fresh one runs or a new incarnation starts."""
    resume_by: ResumeTicket | None = None
    """A person's resume of the quarantined child, told to each incarnation that starts until
    one has stored it (one whose start fails, or that dies before, takes it nowhere); refused
    if the child is given up again first."""
    spawned_at: float | None = None
    """When (monotonic) the current incarnation's start began; its start is judged hung against
    it (supervision/watch.py `_check_start`)."""
    replaced_start: bool = False
    """An incarnation of this child was given up while starting (its start hung): it may still
    wake and report, so the reports of a starting child no longer tell whose they are."""
    start_probe: Any = None
    """After a replaced start: a Ping asked of the starting incarnation, answered once its own
    start is done; until then a "started" report is kept (`start_report`), not believed."""
    start_report: tuple[int, float] | None = None
    start_confirming: bool = False
    """Its probe was answered: the mark that confirms the start is posted (watch.py)."""
    start_error: str | None = None
    """After a replaced start: the last failure reported while starting (whose, unknown); the
    starting incarnation's own failure is found by its death (`_died`), named by it."""


def state_of(children: Mapping[str, Child]) -> Callable[[str], str | None]:
    """A symbol's actor state as its value ("starting", "running", ...; None: no such
    symbol): the signal receiver waits through a start with it (signals/router.py)."""

    def state(symbol: str) -> str | None:
        child = children.get(symbol)
        return None if child is None else child.state.value

    return state
