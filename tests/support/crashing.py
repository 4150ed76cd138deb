"""How supervision tests make an actor fail in its message handler.

They used to raise an ordinary exception from the symbol's strategy. Since a strategy's
exception is contained in its symbol (actors/strategy_guard.py: the strategy is switched off,
the actor keeps running), a test that needs the actor itself to fail raises `ActorBug` from the
strategy instead: a BaseException, which the guard leaves alone and the actor shell turns into
the actor's own failure (actors/symbol_actor.py `contained`), as it does for a library calling
sys.exit inside an actor. The supervisor then sees a handler failure like any other."""

from __future__ import annotations

import threading


class ActorBug(BaseException):
    """A bug that fails the actor it is raised in (see the module docstring)."""


class CrashOnFirstPrice:
    """A strategy whose first price fails its actor (ActorBug); every later price is None.
    One instance shared by the symbol's incarnations: only the first one fails."""

    name = "crash-once"

    def __init__(self) -> None:
        self.crashed = False

    def on_price(self, price: object, volume: object, now: object, position: object) -> None:
        if not self.crashed:
            self.crashed = True
            raise ActorBug("bug on the first price")
        return None


class HangOnce:
    """A strategy whose first price blocks until the test sets `gate` (it appends True to
    `entered` first, so the test can wait for the hang); with `crash`, that price then fails
    its actor (ActorBug), and whatever was told to the actor meanwhile sits in its mailbox when
    it dies. Every other price is None."""

    def __init__(self, gate: threading.Event, entered: list[bool], *, crash: bool = False) -> None:
        self.gate, self.entered, self.crash = gate, entered, crash
        self.name = "hang-then-crash" if crash else "hang"

    def on_price(self, price: object, volume: object, now: object, position: object) -> None:
        if not self.entered:
            self.entered.append(True)
            self.gate.wait(30)
            if self.crash:
                raise ActorBug("bug after the hang")
        return None
