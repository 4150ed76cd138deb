"""An entry check reads the operator's pause once (defect: `refuse`, run on an actor's thread,
read `self.paused` twice; a person's unpause applied on the run loop between the two reads made
it call `None.get` and raise AttributeError inside the symbol's decision, crashing its actor).

The interleaving is made deterministic by a guard whose `paused` answers the pause to its first
read and nothing after it, as if the unpause landed right after that read. Real SQLite."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from protections.guard import AccountGuard
from tests.protections.ledger_rig import BASE, BTC, T0, Ledger


class UnpausedAfterFirstRead(AccountGuard):
    @property  # type: ignore[override]
    def paused(self) -> dict[str, Any] | None:
        self.reads += 1
        return self.pause if self.reads == 1 else None

    @paused.setter
    def paused(self, value: dict[str, Any] | None) -> None:
        self.pause, self.reads = value, 0


def test_an_unpause_between_two_reads_never_raises_in_the_entry_check(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard = UnpausedAfterFirstRead(
        repo=ledger.repo, sup=SimpleNamespace(children={}, kill_switch=False), checks=[],
        base=BASE, alert=lambda *a, **k: None, logger=ledger.log, clock=lambda: T0)
    guard.apply("pause", "", {"by": "ops"})
    guard.reads = 0  # the actor's check starts reading now
    assert guard.refuse(BTC, T0) == "entries paused by ops"
    ledger.close()
