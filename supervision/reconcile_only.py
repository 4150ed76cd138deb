"""A reconcile-only run of a quarantined symbol's actor after its emergency close.

Found by review: after a crash-loop escalation the supervisor stops the symbol's actor; the
emergency close was sent, but the reconciliation asked after it reached no actor, so until
`bot.py resume` or a restart the journal had no PositionClosed, the ledger missed the close's
P&L, the database kept the position open (an entry-gate slot), the old stop order stayed on the
exchange and the dump showed the position open and protected.

Now the supervisor starts the symbol's actor once more, only for its start (claim, restore,
reconcile: the path of every restart, which books the closing fill, cancels the position's
orders and frees its slot), and stops it as soon as its start is reported. It takes no message
meanwhile: the child stays quarantined, so no price, signal or beat is delivered to it
(supervision/child.py `open_for`); it is built without a strategy and without a price slot. An
escalation it would raise is one ERROR line, not a second escalation (the symbol is quarantined
and its close has run: escalating again would run the close and this again, a loop). One that
fails to start is one ERROR line and is not started again for that close: the next run of an
owed close, a person's resume or a restart reconciles. A person's resume stops it (the resumed
actor's fence and claim shut it out). Each run has its own report channel, so a stopped run's
late report is never taken for another's.

A run starts only once the symbol's supervisor records are stored (`pending`): the escalation's
quarantine, written on the record keeper's thread, moves the symbol's incarnation on (it fences
the quarantined one, storage/repository.py `quarantine`). Found by a test that failed once in
CI under load: the close ended and the run claimed before that write, which then moved the
incarnation past the run's; its commit was refused ("incarnation 2 was replaced") and the
close's fill stayed unbooked. One that waits is started by `due` (the supervisor's loop).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pykka

from trading.commands import Escalate

Report = Callable[[str, int, str, BaseException | None], None]
"""An actor's report to its supervisor: (symbol, incarnation, what, error)."""
Starter = Callable[[str, Report, Callable[[str, Escalate], None]], pykka.ActorRef]
"""Starts the symbol's actor for a reconcile-only run with this report and escalation channel
(runtime/account.py: the account's actor, no strategy, no price slot)."""


class ReconcileOnly:
    def __init__(self, *, log: Any, clock: Callable[[], float], views: dict[str, Any],
                 post: Callable[[tuple[Any, ...]], None],
                 monotonic: Callable[[], float] = time.monotonic,
                 pending: Callable[[str], int] = lambda symbol: 0) -> None:
        self.start: Starter | None = None  # set by the composition root; None: not run
        self.log = log
        self.clock = clock
        self.views = views
        self._post = post  # onto the supervisor's inbox: reports are handled on its thread
        self._runs: dict[str, tuple[int, pykka.ActorRef]] = {}  # symbol -> (token, its actor)
        self._mono = monotonic
        self._since: dict[str, float] = {}  # symbol -> when (monotonic) its run was started
        self._again: set[str] = set()  # a close ended while a run was still starting
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()
        self._booked: dict[str, float] = {}  # symbol -> when a run last reconciled it
        self._pending = pending  # the symbol's supervisor records not yet stored (its quarantine)
        self._unstored: set[str] = set()  # a run waiting for them (`due` starts it)

    # -- the supervisor's thread ---------------------------------------------------------------
    def run(self, symbol: str) -> None:
        """Start the quarantined symbol's actor for its start's reconciliation (one at a time:
        one still starting is run once more after it)."""
        if self.start is None:
            return
        log = self.log.bind(symbol=symbol)
        running = self._runs.get(symbol)
        if running is not None and running[1].is_alive():
            self._again.add(symbol)
            return
        if self._pending(symbol):  # its claim before the quarantine's write would be fenced
            if symbol not in self._unstored:
                self._unstored.add(symbol)
                log.info("reconcile-only run waits for the symbol's quarantine to be stored")
            return
        token = next(self._tokens)

        def report(sym: str, inc: int, what: str, error: BaseException | None) -> None:
            self._post(("reconcile_only", sym, token, what, error))

        try:
            ref = self.start(symbol, report, _escalation_said(log))
        except Exception as exc:  # noqa: BLE001 - one line; never retried in a loop
            log.error("reconcile after the emergency close not started ({}): the close's fill "
                      "is booked when the symbol's actor runs again (`bot.py resume`, a restart)",
                      _text(exc))
            return
        self._runs[symbol] = (token, ref)
        self._since[symbol] = self._mono()
        log.warning("reconcile-only run of the quarantined symbol started: it books the "
                    "emergency close's fill from the exchange, takes no entries, then stops")

    def due(self) -> None:
        """After each round of the supervisor's loop: a run that waited for the symbol's records
        is asked again once they are stored (the supervisor checks the symbol is still
        quarantined and the bot is not stopping)."""
        for symbol in [s for s in self._unstored if not self._pending(s)]:
            self._unstored.discard(symbol)
            self._post(("closed", symbol))

    def reported(self, symbol: str, token: int, what: str, error: BaseException | None) -> bool:
        """A run's report; True: the symbol asks for one more run (a close ended meanwhile)."""
        running = self._runs.get(symbol)
        if running is None or running[0] != token or what not in ("started", "start_failed"):
            return False  # a stopped run's, or its "stopped"
        del self._runs[symbol]
        log = self.log.bind(symbol=symbol)
        if what == "started":
            published = self.views.get(symbol)
            if getattr(published, "reconciled", False):
                with self._lock:
                    self._booked[symbol] = self.clock()
                log.warning("reconcile-only run done: the symbol is booked as the exchange "
                            "holds it; it stays quarantined")
            else:
                log.error("reconcile-only run started but could not reconcile: the close's "
                          "fill is booked when the symbol's actor runs again")
            running[1].stop(block=False)
        else:
            log.error("reconcile-only run failed to start ({}): the close's fill is booked when "
                      "the symbol's actor runs again (`bot.py resume`, a restart)",
                      _text(error) if error is not None else what)
        if symbol in self._again:
            self._again.discard(symbol)
            return True
        return False

    def started_at(self, symbol: str) -> float | None:
        """When (monotonic) the symbol's run still starting was started (None: none is)."""
        return self._since.get(symbol) if symbol in self._runs else None

    def give_up(self, symbol: str, why: str) -> None:
        """The run's start hung (the supervisor judged it: supervision/watch.py): it is
        stopped and forgotten, so a later close's run (or a resume) is not held up behind it
        (found by review: a hung run stayed "running" for good, and every later close only
        asked for one more run after it, which never came). Its exchange calls are fenced by
        the caller; its late report, if it wakes, is a stopped run's (ignored)."""
        self._again.discard(symbol)
        running = self._runs.pop(symbol, None)
        if running is None:
            return
        running[1].stop(block=False)
        self.log.bind(symbol=symbol).error(
            "reconcile-only run given up: {}; stopped, it sends nothing more; the close's fill "
            "is booked when the symbol's actor runs again (`bot.py resume`, a restart)", why)

    def stop(self, symbol: str) -> None:
        """A person resumes the symbol: its run (if any) stops; the resumed actor reconciles."""
        self._again.discard(symbol)
        self._unstored.discard(symbol)
        running = self._runs.pop(symbol, None)
        if running is not None:
            running[1].stop(block=False)

    def stop_all(self) -> list[Any]:
        """The bot stops: every run is asked to stop (the futures of their stops)."""
        futures = []
        for symbol in list(self._runs):
            _, ref = self._runs.pop(symbol)
            futures.append(ref.stop(block=False))
        self._again.clear()
        self._unstored.clear()
        return futures

    # -- any thread ------------------------------------------------------------------------------
    def booked_since(self, symbol: str, at: float) -> bool:
        """Whether a run reconciled the symbol at or after `at`."""
        with self._lock:
            return self._booked.get(symbol, float("-inf")) >= at


def _escalation_said(log: Any) -> Callable[[str, Escalate], None]:
    def escalated(symbol: str, esc: Escalate) -> None:
        log.error("reconcile-only run asked to escalate ({}): not escalated again (the symbol is "
                  "quarantined and its emergency close has run)", esc.reason)
    return escalated


def _text(exc: BaseException) -> str:
    try:
        return f"{type(exc).__name__}: {exc}"
    except Exception:  # noqa: BLE001 - its own text is broken
        return f"{type(exc).__name__}: (its message cannot be read)"
