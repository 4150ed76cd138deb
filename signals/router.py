"""The one path every external signal takes, whatever transport brought it.

decode -> id -> duplicate? -> validate -> known symbol? -> expired? -> its actor still starting?
-> limits -> journal -> deliver.
Every refusal is journaled (`SignalRejected` with the reason) and returned as an `Outcome`; a
repeated id is journaled as `SignalDuplicate` and otherwise ignored. Only a signal that was
received claims its id: a rejected one (malformed, expired, over a limit) or a skipped one (its
actor was not running) is judged again when it is sent again, before and after a restart
alike (found by review: a retry after a 429 was answered "duplicate" though nothing was done,
and after a restart an id whose rejection the log throttle had held back was accepted while
one recorded was not). Duplicates are caught in
memory (also between concurrent requests) and across restarts through the injected `seen`,
which looks in the journal for the signal's `SignalReceived`. Nothing here raises to the
transport: an unexpected error becomes an "error" outcome and a log line.

The receiver serves from the bot's start, while actors still start: a signal for a symbol whose
actor is starting (or restarting) waits for it, at most `start_wait_s` (an entry no longer than
its `max_age_s`), on the request's own thread, and is then delivered, or answered `skipped`
naming the symbol and that it is still starting (journaled, its id free). A feed's message is
not held (the feed's messages are handled one at a time: a wait would hold every symbol's
behind it): it is answered so at once. Found in session 49: the receiver started only once
EVERY actor ran (or after 30 s), so one symbol's slow start held the signals of all.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager, nullcontext
from decimal import Decimal
from typing import Any

from actors.messages import ExternalSignal
from signals import parsing
from signals.limits import OpenPositionGate, WaveLimiter, size_cap
from signals.model import BOT_SYMBOL, Outcome, Rejected, SignalRequest
from signals.reject_throttle import RejectionThrottle, Suppressed
from trading.primitives import decimal_text

Deliver = Callable[[str, ExternalSignal], bool]
Journal = Callable[[str, str, dict[str, Any], str], None]
"""journal(symbol, event_type, data, correlation_id)."""

MEMORY_IDS = 100_000
START_WAIT_S = 8.0
"""How long a signal waits for its symbol's actor still starting (a start reconciliation
retrying against a slow or rate-limited venue took up to ~13 s in chaos runs). Below the 10 s a
sender commonly waits for its answer (our chaos sender, urllib in the tests): an answer that
comes after the sender gave up is an unknown outcome to it, a clear 409 is not."""
COMING_UP = frozenset({"starting", "restarting"})
"""Actor states (supervision.child.ChildState values) a signal waits through."""
NOT_HELD = frozenset({"websocket"})
"""Sources whose messages are handled one at a time, in order: never held by a wait."""
MAX_AGE_S = 30.0
"""signals.max_age_s by default: how long a signal lives from its arrival unless its own
`expires_at` is sooner. Found by review: one without `expires_at` waited behind a busy actor
(or a stalling database) and was traded however late."""


class SignalRouter:
    def __init__(
        self,
        *,
        symbols: Collection[str],
        deliver: Deliver,
        journal: Journal,
        seen: Callable[[str], bool],
        logger: Any,
        wave: WaveLimiter | None = None,
        positions: OpenPositionGate | None = None,
        max_size_usdt: Any = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        throttle: RejectionThrottle | None = None,
        max_age_s: float = MAX_AGE_S,
        bounded: Callable[[float], AbstractContextManager[Any]] | None = None,
        actor_state: Callable[[str], str | None] | None = None,
        start_wait_s: float = START_WAIT_S,
    ) -> None:
        self.symbols = frozenset(symbols)
        self._deliver = deliver
        self._journal = journal
        self._seen = seen
        self.log = logger
        self.wave = wave
        self.positions = positions
        self.max_size_usdt = max_size_usdt
        self.clock = clock
        self.monotonic = monotonic
        self.throttle = throttle or RejectionThrottle(0.0)  # 0: every rejection recorded
        self.max_age_s = max_age_s
        self._bounded = bounded or (lambda _s: nullcontext())
        """The bot's storage.writer.writes_within: bounds the journal and delivery writes to
        what is left of `max_age_s` (they waited the writer's 60 s each)."""
        self._actor_state = actor_state
        """The symbol's actor state (a ChildState value; None: not known): a signal for one
        still starting waits for it (None: never waits, as a test's fakes)."""
        self.start_wait_s = start_wait_s
        self._closing = threading.Event()
        """Set by `stop_waiting` (the receiver stops): a waiting signal is answered at once."""
        self._lock = threading.Lock()
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._settling: dict[str, threading.Event] = {}
        """Ids claimed by a request still being handled: set once it settles (`_settle`)."""
        self.counts: dict[str, int] = {}

    # -- entry points --------------------------------------------------------------------------
    def handle_raw(self, raw: bytes | str, source: str, received: float | None = None) -> Outcome:
        """A JSON text from a transport; `received`: when it reached the bot (None: now)."""
        try:
            return self.handle(parsing.decode(raw), source, received)
        except Rejected as rej:
            return self._reject(None, BOT_SYMBOL, rej, source, {})

    def handle(self, obj: Any, source: str, received: float | None = None) -> Outcome:
        """A decoded JSON value; `received`: when it reached the bot (None: now). A feed's
        message waits behind the one before it: its age counts from its arrival."""
        sid: str | None = None
        claimed = False
        started, arrived = self.clock(), self.monotonic()
        received = started if received is None else min(received, started)
        try:
            sid = parsing.signal_id_of(obj)
            if self._claim_is_duplicate(sid, source):
                return self._duplicate(sid, obj, source)
            claimed = True
            return self._route(parsing.parse(obj), source, received, started, arrived)
        except Rejected as rej:
            symbol = self._journal_symbol(obj)
            return self._reject(sid, symbol, rej, source, obj if isinstance(obj, dict) else {})
        except TimeoutError as exc:  # a stalling database, not a bug: one line, no traceback
            self.log.error("signal {} from {} not traded: {}", sid, source, exc)
            self._release(sid)
            return self._count(Outcome(
                status="error", http_status=503, signal_id=sid,
                reason=f"not traded: the database did not store it in time ({exc}); send it "
                       "again"))
        except Exception as exc:  # noqa: BLE001 - a bad signal must never take the receiver down
            self.log.opt(exception=exc).error("signal {} from {} failed: {}", sid, source, exc)
            self._release(sid)
            return self._count(
                Outcome(
                    status="error",
                    http_status=500,
                    signal_id=sid,
                    reason=f"internal error: {type(exc).__name__}",
                )
            )
        finally:
            if claimed and sid is not None:  # received or freed: a resend waiting is judged now
                self._settle(sid)

    def knows(self, signal_id: str) -> bool:
        """This id was already received here (in memory or in the journal)."""
        with self._lock:
            if signal_id in self._ids:
                return True
        return bool(self._seen(signal_id))

    def refuse(self, obj: Any, rejected: Rejected, source: str) -> Outcome:
        """Reject a signal for a reason found before it reached a router (e.g. its account, by
        signals.accounts.AccountDispatcher): journaled here, its id not claimed, as any
        rejection."""
        try:
            sid: str | None = parsing.signal_id_of(obj)
        except Rejected:
            sid = None
        return self._reject(
            sid, self._journal_symbol(obj), rejected, source, obj if isinstance(obj, dict) else {}
        )

    def stop_waiting(self) -> None:
        """The receiver stops: signals waiting for a starting actor are answered now."""
        self._closing.set()

    # -- steps ---------------------------------------------------------------------------------
    def _claim_is_duplicate(self, sid: str, source: str) -> bool:
        """Claim `sid` for this request, or True: it was received (in memory or the journal).
        A request with an id an earlier one holds and has not settled yet (waiting for a
        starting actor, writing the journal) waits for that outcome: the earlier may end not
        traded and free its id, and "duplicate" would then tell the resend's sender that a
        signal nobody traded was received (a sender retrying within START_WAIT_S lost it).
        A feed's message is not held (NOT_HELD): it is judged a duplicate at once, as before."""
        wait_s = 0.0 if source in NOT_HELD else self.start_wait_s + self.max_age_s
        deadline, told = self.monotonic() + wait_s, False
        while True:
            with self._lock:
                earlier = self._settling.get(sid)
                if earlier is None:
                    if sid in self._ids:
                        return True
                    self._ids[sid] = None
                    self._settling[sid] = threading.Event()
                    while len(self._ids) > MEMORY_IDS:
                        self._ids.popitem(last=False)
                    break
            left = deadline - self.monotonic()
            if left <= 0:
                return True  # undecided past every bound of the earlier request: as before
            if not told:
                told = True
                self.log.info("signal {} from {}: an earlier request with this id is still "
                              "being handled; waiting for its outcome", sid, source)
            earlier.wait(left)
        try:
            seen = bool(self._seen(sid))
        except BaseException:
            self._release(sid)
            self._settle(sid)
            raise
        if seen:
            self._settle(sid)  # received before (a restart ago): the id stays claimed
        return seen

    def _settle(self, sid: str) -> None:
        """This request's claim on `sid` is decided (kept: received; or freed)."""
        with self._lock:
            done = self._settling.pop(sid, None)
        if done is not None:
            done.set()

    def _route(self, req: SignalRequest, source: str, received: float,
               started: float, arrived: float) -> Outcome:
        if req.symbol not in self.symbols:
            raise Rejected(parsing.unknown_symbol(req.symbol, self.symbols), 422)
        if req.expires_at is not None and req.expires_at <= self._now_decimal():
            raise Rejected(f"expired at {req.expires_at} (now {self.clock():.3f})", 409)
        cap, cap_name = size_cap(self.max_size_usdt)
        # an exit closes the whole position whatever its size_usdt says (found by review: an
        # exit carrying a size above the cap, from a sender's fixed template, was refused and
        # the position stayed open); the cap guards what an entry may open
        if req.is_entry and req.size_usdt is not None and req.size_usdt > cap:
            raise Rejected(f"size_usdt {decimal_text(req.size_usdt)} is above {cap_name}", 422)
        starting = self._await_actor(req, source, received, arrived)
        if starting is not None:
            return starting
        if req.is_entry:
            self._not_queued_too_long(received)
            self._admit_entry((req.symbol, req.side_name))
        data = {**req.journal_data(), "source": source, "levels_applied": False}
        # an exit's writes get the whole bound from its turn: it is carried out however late
        left = max((received if req.is_entry else started) + self.max_age_s - self.clock(), 0.001)
        try:
            with self._bounded(left):  # a stalling database holds it no longer than its age
                self._journal(req.symbol, "SignalAccepted", data, req.signal_id)
                if req.is_entry:  # an exit is delivered however late (model.to_external)
                    self._fresh(received)
                delivered = self._deliver(req.symbol, req.to_external(source, received,
                                                                      self.max_age_s))
        except BaseException:  # not delivered ("error"): its places go back, as when skipped
            if req.is_entry:
                self._give_back((req.symbol, req.side_name))
            raise
        if delivered:
            self.log.info(
                "signal {} {} {} from {} delivered",
                req.signal_id,
                req.symbol,
                req.side_name,
                source,
            )
            return self._count(Outcome(status="accepted", http_status=202, signal_id=req.signal_id))
        self.log.warning(
            "signal {} {}: actor not running, journaled as skipped", req.signal_id, req.symbol
        )
        self._release(req.signal_id)  # not received: a retry is judged again
        if req.is_entry:
            self._give_back((req.symbol, req.side_name))
        return self._count(
            Outcome(
                status="skipped",
                http_status=409,
                signal_id=req.signal_id,
                reason=f"the actor for {req.symbol} is not running",
            )
        )

    def _await_actor(self, req: SignalRequest, source: str, received: float,
                     arrived: float) -> Outcome | None:
        """None once the symbol's actor is not starting (running: delivered; any other state:
        `deliver` says so); else the `skipped` answer naming it after the wait (none for a
        feed), journaled, its id free so a retry is judged again. The wait ends start_wait_s
        after the request `arrived` (monotonic), also for a resend that waited for its first
        (found by review: answered up to 16 s after it came, past a sender's 10 s timeout)."""
        read = self._actor_state
        state = read(req.symbol) if read is not None else None
        if read is None or state not in COMING_UP:
            return None
        wait_s = 0.0 if source in NOT_HELD else arrived + self.start_wait_s - self.monotonic()
        if req.is_entry:  # an entry never waits past its age (it would be refused stale)
            wait_s = min(wait_s, received + self.max_age_s - self.clock())
        begun = self.monotonic()
        if wait_s > 0:
            self.log.info("signal {} {}: waiting for its actor ({}), at most {:.1f}s",
                          req.signal_id, req.symbol, state, wait_s)
        while (left := begun + wait_s - self.monotonic()) > 0:
            if self._closing.wait(min(0.02, left)):
                break
            state = read(req.symbol)
            if state not in COMING_UP:
                return None
        why = ("the bot is stopping" if self._closing.is_set() else
               "a feed's message is not held" if source in NOT_HELD else
               f"waited {self.monotonic() - begun:.1f}s")
        reason = (f"the actor for {req.symbol} is still {state} ({why}); not traded, send it "
                  "again")
        self.log.warning("signal {} {} from {} skipped: {}", req.signal_id, req.symbol, source,
                         reason)
        self._release(req.signal_id)
        self._safe_journal(req.symbol, "SignalSkipped", {
            "signal_id": req.signal_id, "side": req.side_name, "source": source,
            "reason": reason}, req.signal_id)
        return self._count(Outcome(status="skipped", http_status=409, signal_id=req.signal_id,
                                   reason=reason))

    def _not_queued_too_long(self, received: float) -> None:
        """An entry older than `max_age_s` when its turn came (a feed's message queued behind
        a slow one: found by review, its age counted from its turn, so a burst sent during a
        database stall was traded once the database answered, as late as the stall was long)."""
        age = self.clock() - received
        if age > self.max_age_s:
            raise Rejected(f"stale: {age:.1f}s old when its turn came (it waited behind a slow "
                           f"signal), over signals.max_age_s ({self.max_age_s:g}s); not traded, "
                           "send it again", 503)

    def _fresh(self, received: float) -> None:
        """Refused when the journal write took it past `max_age_s` (a stalling database):
        never delivered late; its id stays free, so the sender's retry is judged again."""
        age = self.clock() - received
        if age > self.max_age_s:
            raise Rejected(f"stale: {age:.1f}s old before it could be delivered (the database "
                           f"was slow), over signals.max_age_s ({self.max_age_s:g}s); not "
                           "traded, send it again", 503)

    def _admit_entry(self, key: tuple[str, str]) -> None:
        """The wave and open-position limits, per (symbol, side): a repeat of an entry still
        counted takes no second place in either."""
        with self._lock:
            now = self.monotonic()
            for limit in (self.wave, self.positions):
                reason = limit.check(now, key) if limit is not None else None
                if reason is not None:
                    raise Rejected(reason, 429 if limit is self.wave else 409)
            for limit in (self.wave, self.positions):
                if limit is not None:
                    limit.take(now, key)

    def _give_back(self, key: tuple[str, str]) -> None:
        with self._lock:
            for limit in (self.wave, self.positions):
                if limit is not None:
                    limit.forget(key)

    def _duplicate(self, sid: str, obj: dict[str, Any], source: str) -> Outcome:
        symbol = self._journal_symbol(obj)
        self._safe_journal(symbol, "SignalDuplicate", {"signal_id": sid, "source": source}, sid)
        self.log.info("signal {} from {} is a duplicate; ignored", sid, source)
        return self._count(
            Outcome(
                status="duplicate",
                http_status=200,
                signal_id=sid,
                reason="this signal id was already received",
            )
        )

    def _reject(
        self, sid: str | None, symbol: str, rej: Rejected, source: str, obj: dict[str, Any]
    ) -> Outcome:
        self._release(sid)  # a rejected signal claims no id: a retry is judged again
        record, held = self.throttle.admit(rej.reason, self.monotonic())
        if held is not None:
            self._record_suppressed(held)
        if record:
            data = {
                "signal_id": sid,
                "reason": rej.reason,
                "source": source,
                "symbol": str(obj.get("symbol"))[:64] if obj.get("symbol") is not None else None,
                "side": str(obj.get("side"))[:16] if obj.get("side") is not None else None,
            }
            self._safe_journal(
                symbol, "SignalRejected", data, sid or f"signal-{uuid.uuid4().hex[:12]}"
            )
            self.log.warning("signal {} from {} rejected: {}", sid, source, rej.reason)
        return self._count(
            Outcome(status="rejected", http_status=rej.status, signal_id=sid, reason=rej.reason)
        )

    def flush_rejections(self, due_only: bool = False) -> None:
        """Record the rejections the throttle still holds back (at stop; `due_only`: from the
        receiver's timer, once their interval is over)."""
        held = self.throttle.flush(self.monotonic() if due_only else None)
        if held is not None:
            self._record_suppressed(held)

    def _record_suppressed(self, held: Suppressed) -> None:
        data = {
            "signal_id": None,
            "reason": f"{held.count} more rejections not recorded one by one",
            "suppressed": held.count,
            "reasons": held.reasons,
        }
        self._safe_journal(BOT_SYMBOL, "SignalRejected", data, f"signal-{uuid.uuid4().hex[:12]}")
        self.log.warning(
            "signals: {} more rejections within {:g}s not recorded one by one: {}",
            held.count,
            self.throttle.interval_s,
            held.reasons,
        )

    # -- helpers -------------------------------------------------------------------------------
    def _journal_symbol(self, obj: Any) -> str:
        symbol = obj.get("symbol") if isinstance(obj, dict) else None
        return (
            symbol.strip()
            if isinstance(symbol, str) and symbol.strip() in self.symbols
            else BOT_SYMBOL
        )

    def _safe_journal(self, symbol: str, type_: str, data: dict[str, Any], cid: str) -> None:
        """The record of a signal not traded (refused, a duplicate): it waits `max_age_s` at
        most, as a traded one's writes (found by review: the writer's 60 s, so through a
        database stall each refused request held its connection, or the feed's one handler
        and the messages behind it, a minute, then logged a traceback)."""
        try:
            with self._bounded(self.max_age_s):
                self._journal(symbol, type_, data, cid)
        except TimeoutError as exc:  # a stalling database, not a bug: one line
            self.log.error("could not journal {} {}: {}", type_, data, exc)
        except Exception as exc:  # noqa: BLE001 - the answer still goes out; the log has it
            self.log.opt(exception=exc).error("could not journal {} {}: {}", type_, data, exc)

    def _now_decimal(self) -> Decimal:
        return Decimal(repr(self.clock()))

    def _release(self, sid: str | None) -> None:
        """Forget an id whose handling failed before it reached the journal, so a retry is
        not mistaken for a duplicate (`seen` still catches it if it did reach the journal)."""
        if sid is not None:
            with self._lock:
                self._ids.pop(sid, None)

    def _count(self, outcome: Outcome) -> Outcome:
        with self._lock:
            self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        return outcome
