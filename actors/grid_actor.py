"""The hedge grid's actor is SymbolActor with a grid core; this alias keeps `GridDeps` callers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from actors.symbol_actor import ActorDeps, SymbolActor


@dataclass(frozen=True, slots=True, kw_only=True)
class GridDeps:
    core_for: Callable[[str], Any]


class GridActor(SymbolActor):
    def __init__(self, symbol: str, deps: ActorDeps, grid: GridDeps) -> None:
        super().__init__(symbol, replace(deps, core_for=grid.core_for))
