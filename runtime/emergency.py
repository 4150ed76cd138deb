"""The one emergency close of every trading style, run by the supervisor on every escalation.

An escalation (close attempts exhausted in the one-way core, a grid leg's close failing past its
bound, or an actor crash-looping past the restart limit) comes to the supervisor, which runs
this closer once. It reads the positions from the exchange, cancels the symbol's open orders
except reduce-only stops (the stop keeps protecting if this fails too; a conditional entry
goes), and sends one reduce-only market order per position: one in one-way mode, one per leg
in hedge mode, each naming its leg with positionIdx. A position larger than the market's
maximum order amount (which the venue refuses in one order) is sent in slices of the maximum,
each an order of its own. Each order's client order id is journaled before the call
(write-ahead). Runs on its own thread so the supervisor is never blocked on the exchange;
when it is done, `done` runs (the supervisor then asks the symbol's actor to reconcile, which
books the closing fills from the exchange and lets go of the position only on that evidence).

The close itself is owed write-ahead: before anything is read or sent, the meta row
`emergency_close_owed:<symbol>` is committed with the reason, and it is cleared when the run
ends (sent, no position, or failed: a failure is reported once and never retried in a loop;
one that is temporary stays owed and, with `retry_owed`, is run again while the bot runs, see
`_run`; otherwise at the next start).
A process killed in between (the hand-off from the supervisor plus three or more exchange
calls, longer while the rate budget makes them wait) left the symbol quarantined with its
position open and nothing that would ever close it: the restarted account runs every owed
close once more (`owed`, runtime/account.py), with an alert. The closer reads the exchange's
positions first, so a close that did land before the kill sends nothing the second time.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from cluster.lease import LeaseLost
from exchange.errors import OrderOutcomeUnknown, TemporaryError
from exchange.fence import CallScope, FenceCheck, Fenced, call_scope, check_fence
from exchange.port import ExchangePort
from observability.error_text import describe, message
from runtime.emergency_status import CloseStatus, owed_closes
from runtime.emergency_steps import CancelFailed, CloseSteps, CutShort, JournalFailed
from storage.commit_sql import EMERGENCY_OWED
from storage.repository import Repository
from supervision.alerts import EMERGENCY_CLOSE_FAILED

POSITION_IDX = {"long": 1, "short": 2}
OWED = EMERGENCY_OWED
"""Meta key prefix: an emergency close asked for and not yet run to its end (written with the
core's escalation itself, and again here before anything is read or sent)."""
OWED_RETRY_FIRST_S = 60.0
OWED_RETRY_MAX_S = 1800.0
"""An owed close (a temporary failure) runs again after 1, 2, 4, ... minutes, at most 30 min
apart, while the bot runs (`retry_owed`)."""


def forgive(repo: Repository, symbol: str) -> None:
    """A person resumed the symbol: an emergency close still owed for it is not run."""
    repo.set_meta(OWED + symbol, "")


def _owed_unlisted(symbols: list[str]) -> dict[str, str]:
    """Inside `repo.read`: symbol -> reason of every close owed for a symbol outside `symbols`
    (taken off symbols.list while its close was owed)."""
    found = owed_closes()
    return {sym: reason for sym, reason in sorted(found.items()) if sym not in symbols}


class EmergencyCloser(CloseSteps):
    """The runs of each symbol's close, owed and run again; the exchange steps of one run are
    runtime/emergency_steps.py's."""

    def __init__(
        self,
        *,
        exchange: ExchangePort,
        repo: Repository,
        prefix: str,
        logger: Any,
        clock: Callable[[], float] = time.time,
        fence: FenceCheck | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] | None = None,
        alert: Callable[[str, str, str], object] | None = None,
        retry_owed: bool = False,
        pause: Callable[[threading.Event, float], object] | None = None,
    ) -> None:
        self.exchange = exchange
        self._alert = alert  # (symbol, kind, message): a failed close is a person's to know
        self._stopping = threading.Event()
        self._sleep = sleep or self._stopping.wait
        """The waits between the retries of a step (RETRY_WAITS_S); the default one ends at
        `stop` (found by review: time.sleep held a shutdown through every step's retries)."""
        self.repo = repo
        self.prefix = prefix
        self.fence = fence
        """Checked before each exchange attempt and after each wait of the close (exchange/
        fence.py `AccountFence`: on a cluster node, the account's lease)."""
        self.log = logger
        self.clock = clock
        self._monotonic = monotonic  # `wait`'s deadline
        self._threads: list[threading.Thread] = []  # the running ones (pruned at each close)
        self._threads_lock = threading.Lock()  # `close` and `wait` run on different threads
        self.retry_owed = retry_owed
        """A close left owed by a temporary failure runs again while the bot runs (found by
        review: it ran again only at the next start, the position stayed open for days)."""
        self._pause = pause or (lambda wake, seconds: wake.wait(seconds))
        """Waits between the owed close's runs; returns early once `wake` is set (`stop`, or a
        new escalation of the symbol)."""
        self._wakes: dict[str, threading.Event] = {}  # symbol -> its retry's wake-up
        self._active: set[str] = set()  # symbols whose close thread has not decided to end
        self._asked: dict[str, str] = {}  # symbol -> reason of a close asked while one ran
        self.status = CloseStatus()
        """The status dump's closes owed and not booked (runtime/emergency_status.py)."""

    def close(self, symbol: str, reason: str, done: Callable[[], object] | None = None) -> None:
        """Run the symbol's close on a thread of its own; one already running for the symbol
        takes this one's place (found by review: a second escalation while the first close
        still waited on the venue ran a second close beside it, whose end cleared the close
        owed while the first one was still sending) and runs it once more when it ends, reading
        the positions again (found by review: a position opened after its read, escalated, was
        never closed and its close no longer owed)."""
        name = f"emergency-{symbol}"
        t = threading.Thread(target=self._run, args=(symbol, reason, done), name=name, daemon=True)
        with self._threads_lock:  # the finished ones go (found by review: the list only grew)
            self._threads = [old for old in self._threads if old.is_alive()]
            if symbol in self._active:
                self._asked[symbol] = reason
                self._wakes.setdefault(symbol, threading.Event()).set()  # an owed one: now
                self.log.bind(symbol=symbol).warning(
                    "emergency close asked again ({}) while one is still running: that one "
                    "goes on, and runs it once more when it ends", reason)
                return
            t.start()  # started before it is listed: `wait` may run on another thread
            self._active.add(symbol)  # its end is decided under this lock, after this
            self._threads.append(t)

    def stop(self) -> None:
        """The bot stops: an owed close waiting for its next run does not run again (`wait`
        then joins the ones still sending)."""
        self._stopping.set()
        with self._threads_lock:
            wakes = list(self._wakes.values())
        for wake in wakes:
            wake.set()

    def wait(self, timeout: float = 30.0) -> None:
        """Wait for the closes still running, ``timeout`` s in all: one deadline for every
        close (found by review: each stuck close had its own 30 s, N stuck closes held the
        shutdown N x 30 s)."""
        deadline = self._monotonic() + timeout
        with self._threads_lock:
            threads = list(self._threads)
        for t in threads:
            t.join(max(0.0, deadline - self._monotonic()))

    def owed(self, symbols: list[str]) -> dict[str, str]:
        """Symbol -> reason of every emergency close asked for and not run to its end (the
        process died in between)."""
        found = {sym: self.repo.get_meta(OWED + sym) for sym in symbols}
        return {sym: reason for sym, reason in found.items() if reason}

    def resume_owed(self, symbols: list[str], *, resumed: set[str],
                    alert: Callable[[str, str], None], then: Callable[[str], object],
                    before: dict[str, str] | None = None) -> None:
        """At start: every owed close runs again, with an alert, then `then(symbol)` (the
        actor reconciles); one whose symbol a person resumed while the bot was down (a queued
        `bot.py resume`) is dropped: their word stands. `before`: the closes owed when this
        process began, read before any of its actors ran; one owed now but not then was asked
        by an escalation of this process and is running already (found by a test that failed
        once: an actor failing at its first spawn escalated before this ran, and its own close
        was alerted as "interrupted by a restart" and run a second time). One owed for a
        symbol taken off symbols.list meanwhile is not run but alerted, at every start while
        it is owed (found by review: it was never run nor said). Not run: no actor of it books
        the close's fill, follows the position to flat or lets a person resume it, and its
        market may be gone (delisted); listed again, it runs with its actor."""
        for symbol, reason in self.owed(symbols).items():
            if before is not None and symbol not in before:
                continue  # this process's own close (above)
            if symbol in resumed:
                self.log.bind(symbol=symbol).warning(
                    "emergency close interrupted by a restart not run again: {} was resumed "
                    "while the bot was down", symbol)
                self.forgive(symbol)
                continue
            alert(symbol, f"emergency close interrupted by a restart, run again ({reason})")
            self.close(symbol, reason, functools.partial(then, symbol))

        for symbol, reason in self.repo.read(_owed_unlisted, symbols).items():
            alert(symbol, f"emergency close still owed ({reason}) for {symbol}, which "
                  "symbols.list no longer lists: not run (no actor of it would book its fill "
                  "or follow it to flat); the exchange may still hold its position: list it "
                  "again so the bot closes it (listed, `bot.py resume` keeps it), or close it "
                  "on the exchange by hand; said at every start until then")

    def forgive(self, symbol: str) -> None:
        forgive(self.repo, symbol)

    def owed_status(self, owed: dict[str, str], symbols: list[str],
                    escalations: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The status dump's `emergency_closes_owed` (runtime/emergency_status.py)."""
        with self._threads_lock:
            active = set(self._active)
        return self.status.owed_status(owed, symbols, escalations, active)

    def running(self) -> list[str]:
        """Symbols whose close thread is still running (after `wait`: stuck)."""
        with self._threads_lock:
            threads = list(self._threads)
        return [t.name.removeprefix("emergency-") for t in threads if t.is_alive()]

    def _tell(self, symbol: str, text: str, log: Any) -> None:
        if self._alert is None:
            return
        try:
            self._alert(symbol, EMERGENCY_CLOSE_FAILED, text)
        except Exception as exc:  # noqa: BLE001 - the alert's own failure is said, not raised
            log.error("emergency close: its alert failed: {}", describe(exc))

    def _run(self, symbol: str, reason: str, done: Callable[[], object] | None) -> None:
        asked: str | None = reason
        try:
            while asked is not None:  # one more run for a close asked while this one ran
                self._run_owed(symbol, asked, done)
                with self._threads_lock:
                    asked = self._asked.pop(symbol, None)
                    if asked is None:
                        self._active.discard(symbol)
        except BaseException:  # the next escalation of the symbol starts a close of its own
            with self._threads_lock:
                self._active.discard(symbol)
                self._asked.pop(symbol, None)
            raise

    def _run_owed(self, symbol: str, reason: str, done: Callable[[], object] | None) -> None:
        with call_scope(CallScope(fence=self.fence)) if self.fence else contextlib.nullcontext():
            with self._threads_lock:  # `stop` sets stopping, then every wake under the lock
                wake = self._wakes.setdefault(symbol, threading.Event())
                wake.clear()  # a wake left by an earlier thread of the symbol
                if self._stopping.is_set():
                    wake.set()
            again = self._run_fenced(symbol, reason, done)
            delay = OWED_RETRY_FIRST_S
            while again and self.retry_owed:
                self.status.noted(symbol, next_at=self.clock() + delay)
                self._pause(wake, delay)
                wake.clear()
                self.status.noted(symbol, next_at=None)
                still = self._still_owed(symbol)
                if still is None:
                    return
                if still:  # "": not known now, looked at again after the next wait
                    again = self._run_fenced(symbol, still, done, retry=delay)
                delay = min(delay * 2, OWED_RETRY_MAX_S)

    def _still_owed(self, symbol: str) -> str | None:
        """The reason of the close still owed, before it runs again; None: it is not run again
        (the bot stops, a person resumed the symbol, or the node lost the account); "": the
        database could not tell (looked at again after the next wait)."""
        log = self.log.bind(symbol=symbol)
        if self._stopping.is_set():
            log.warning("emergency close still owed, not run again: the bot stops (the next "
                        "start runs it)")
            return None
        try:
            check_fence()
        except Exception as exc:  # noqa: BLE001 - Fenced, LeaseLost: nothing more is sent
            log.error("emergency close left owed to the account's next owner: {}",
                      describe(exc))
            return None
        try:
            reason = self.repo.get_meta(OWED + symbol)
        except Exception as exc:  # noqa: BLE001 - said in one line; looked at again later
            log.error("emergency close: could not read whether it is still owed ({}); looked "
                      "at again later", describe(exc))
            return ""
        if not reason:
            log.warning("emergency close no longer owed (the symbol was resumed): not run again")
            self.status.forget(symbol)
            return None
        return reason

    def _run_fenced(self, symbol: str, reason: str, done: Callable[[], object] | None,
                    retry: float = 0.0) -> bool:
        """One run of the close; True: it failed for a temporary reason and stays owed. A run
        again (`retry`: the wait before it) is said in one line when it fails, not alerted
        again (the first failure was)."""
        log = self.log.bind(symbol=symbol)
        corr = uuid.uuid4().hex[:16]
        owed = False  # True: the close stays owed (the next start or owner runs it again)
        again = False  # True: owed by a temporary failure (run again while the bot runs)
        sent: list[str] = []  # the close orders the venue took
        self._note_owed(symbol, reason, retry, log)
        try:
            self._close_positions(symbol, reason, corr, log, sent)
        except (Fenced, LeaseLost) as exc:  # the node lost the account: its new owner runs it
            owed = True
            self.status.noted(symbol, failed=True, error=message(exc))
            log.error("emergency close stopped, left owed to the account's next owner: {}",
                      describe(exc))
        except CutShort as exc:  # the bot stops: the next start runs it again
            owed = True
            log.error("emergency close cut short by the bot's stop while {} waited to be "
                      "tried again: still owed, the next start runs it (the position stays "
                      "open behind its exchange stop)", exc)
        except Exception as exc:  # noqa: BLE001 - reported, never retried in a loop
            # a temporary failure (the venue still down after the retries, an order that may
            # have landed, a close order not journaled so not sent) or an entry not cancelled
            # stays owed: run again, reading the positions first, with `retry_owed` after a
            # bounded backoff (`_run`), else once at the next start
            owed = again = isinstance(exc, (TemporaryError, OrderOutcomeUnknown, CancelFailed,
                                            JournalFailed))
            self._failed(symbol, exc, owed, retry, corr, log)
        finally:
            self._settle(symbol, owed, done, sent, log)
        return again

    def _note_owed(self, symbol: str, reason: str, retry: float, log: Any) -> None:
        """Recorded as owed before anything is sent, so a crash mid-close leaves it for the next
        start; a failure to record it is one line (the close matters more)."""
        try:
            if not retry:  # run again, it is owed already (a resume meanwhile clears it)
                self.repo.set_meta(OWED + symbol, reason or "escalation")
        except Exception as exc:  # noqa: BLE001 - the close matters more than its bookkeeping
            log.error("emergency close: could not record it as owed: {}", describe(exc))

    def _close_positions(self, symbol: str, reason: str, corr: str, log: Any,
                         sent: list[str]) -> None:
        """The close itself: the symbol's positions read, its other orders cancelled, each
        position (one per leg in hedge mode) closed; the orders the venue took go to `sent`."""
        held = self._retried("reading the positions",
                             lambda: self.exchange.fetch_positions([symbol]), log)
        positions = [p for p in held if p.symbol == symbol and p.contracts > 0]
        if not positions:
            log.warning("emergency close: no position on the exchange")
            return
        self._close_all(symbol, positions, reason, corr, log, sent)

    def _failed(self, symbol: str, exc: Exception, owed: bool, retry: float, corr: str,
                log: Any) -> None:
        """A run that failed: shown in the status, said in one line, alerted the first time
        (a run again that fails is one line), and journaled as EmergencyCloseFailed."""
        self.status.noted(symbol, failed=True, error=message(exc))
        later = ("run again while the bot runs, after 1 min, then at most 30 min apart"
                 if self.retry_owed else "the next start runs it again")
        log.error("emergency close failed{}{}: {}",
                  f" again (run after {retry:g}s)" if retry else "",
                  f" (still owed: {later})" if owed else "", describe(exc))
        if not retry:  # the first failure is alerted; a run again that fails is one line
            self._tell(symbol, "emergency close failed, the position is still open (its "
                       f"exchange stop stays){'; ' + later if owed else ''}: "
                       f"{message(exc)}", log)
        try:  # message(): an exception whose str() raises is named by its type, not raised
            self.repo.record(
                symbol, "EmergencyCloseFailed", {"error": message(exc)}, correlation_id=corr
            )
        except Exception as record_exc:  # noqa: BLE001 - said in one line, not a traceback
            log.error("emergency close: could not record its failure: {}",
                      describe(record_exc))

    def _settle(self, symbol: str, owed: bool, done: Callable[[], object] | None,
                sent: list[str], log: Any) -> None:
        """After any run: a close no longer owed is cleared (status and meta); `done` tells the
        symbol's actor to reconcile, and a close it could not book is shown (`_not_booked`)."""
        if not owed:
            self.status.forget(symbol)
        try:
            if not owed:
                self.repo.set_meta(OWED + symbol, "")
        except Exception as exc:  # noqa: BLE001 - owed still: the next start runs it again
            log.error("emergency close: could not clear it as owed: {}", describe(exc))
        ended = self.clock()  # before `done`: a reconcile it starts comes after this
        if done is not None and done() is False and sent:
            self._not_booked(symbol, sent, log, ended)

    def _not_booked(self, symbol: str, sent: list[str], log: Any, ended: float) -> None:
        """`done` could not reach a running actor of the symbol (a crash loop stopped it): the
        close's fill is booked only when one runs again (found by review: meanwhile the status
        showed the position open, its P&L unbooked, and nothing said so)."""
        self.status.sent_not_booked(symbol, sent, ended)
        log.warning("emergency close sent ({}), its fill not booked yet: the symbol's actor "
                    "does not run now; its position, P&L and stop show as last known until a "
                    "reconcile-only run books it (supervision/reconcile_only.py) or it runs "
                    "again (quarantined: `bot.py resume {}`, or a restart)", ", ".join(sent),
                    symbol)

    def not_booked(self, runs: Callable[[str, float], bool]) -> list[dict[str, Any]]:
        """The status dump's `emergency_closes_not_booked` (runtime/emergency_status.py)."""
        return self.status.not_booked(runs)
