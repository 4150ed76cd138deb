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
