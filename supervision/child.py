"""Bookkeeping for one supervised symbol actor."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import pykka

from supervision.restart_policy import RestartHistory


class ChildState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    BACKING_OFF = "backing_off"
    QUARANTINED = "quarantined"
    STOPPED = "stopped"


MAILBOX_OPEN = (ChildState.RUNNING, ChildState.STARTING, ChildState.RESTARTING)
"""States in which `Supervisor.tell` delivers: a starting actor handles what it is told after
its start, and an order report waiting sets the start's reconciliation aside. A soak: a stop
removed while its actor was still starting (~100 s under a short rate budget) was reported by
the order stream, dropped as "not running", and found by that reconciliation 78 s later."""


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
    restart_durations: list[float] = field(default_factory=list)
