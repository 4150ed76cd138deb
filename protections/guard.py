"""One account's protections at run time: the ledger feed, the checks, their persisted state,
the operator's pause, and the interim wiring to the actors.

``tick`` runs on the bot's run loop (every ``bot.status_interval_s``): it reads new ledger rows,
lets each check move its state, alerts and journals each trip once, persists, and then makes
every actor's ``BlockEntries`` flag agree with ``refuse`` (interim: once the one entry gate
calls ``checks`` itself, only the feed and the persistence stay here).
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from actors.messages import BlockEntries
from observability.error_text import describe
from protections.checks import DailyLossLimit, MaxDrawdown, StopLossGuard, Trip
from protections.daily_summary import DailySummaries
from protections.ledger_feed import DAY_S, NOT_READ, LedgerTotals, unknown_summary
from storage import reports
from storage.restore import finite_time
from storage.writer import writes_within

STATE_KEY = "protections"
PAUSE_KEY = "entries_paused"
FEED_BATCH = 5000
ACCOUNT_SUBJECT = "*"
"""The journal's symbol for account-wide controls and trips."""
Alert = Callable[..., None]
STORE_S = 10.0
"""How long the guard's writes (a person's control, the state a pass saves) wait for the
database on the run loop, as a person's kill switch waits to be stored (supervision/): a write
not stored by then is said and tried again at the next pass, never dropped."""


def build_checks(cfg: Any, base: Decimal) -> list[Any]:
    """The checks ``[protections]`` asks for (a limit in % is taken of ``base``)."""
    checks: list[Any] = []
    daily = _limit(cfg.daily_loss_limit_usdt, cfg.daily_loss_limit_pct, base)
    if daily is not None:
        checks.append(DailyLossLimit(limit=daily))
    drawdown = _limit(cfg.max_drawdown_usdt, cfg.max_drawdown_pct, base)
    if drawdown is not None:
        checks.append(MaxDrawdown(limit=drawdown))
    if cfg.stoploss_guard_count > 0:
        checks.append(StopLossGuard(count=cfg.stoploss_guard_count,
                                    window_s=cfg.stoploss_guard_window_s,
                                    pause_s=cfg.stoploss_guard_pause_s))
    return checks


def _limit(quote: Decimal | None, pct: Decimal | None, base: Decimal) -> Decimal | None:
    values = [v for v in (quote, None if pct is None else base * pct / 100) if v is not None]
    return min(values) if values else None  # both given: the tighter one


class AccountGuard:
    name = "protections"
    """As an EntryCheck of the account's gate (actors/entry_gate.py): every entry asks `refuse`."""

    def __init__(self, *, repo: Any, sup: Any, checks: list[Any], base: Decimal, alert: Alert,
                 logger: Any, clock: Callable[[], float] = time.time,
                 store_s: float = STORE_S) -> None:
        self.repo, self.sup, self.checks, self.alert, self.log = repo, sup, checks, alert, logger
        self.clock = clock
        self.store_s = store_s
        """How long a write of the run loop waits for the database (STORE_S)."""
        self.totals = LedgerTotals(base=base)
        self.paused: dict[str, Any] | None = None
        self.on_trade: Callable[[str], None] | None = None
        """Optional notices (position opened/closed, daily summary) for people, e.g. Telegram."""
        self._sent: dict[str, tuple[int, str | None]] = {}
        self._replayed = False
        self._built_at = clock()
        """A position opened or closed since is this run's news, even in the replay."""
        self._built_fill = self._last_fill_id()
        """The ledger's last row at the build: a position a later trade row closed is news too
        (a stop that filled while the bot was down is dated by its fill, before the build)."""
        self._open_seen: set[str] = set()
        self.summaries = DailySummaries(repo, logger)
        self._read_at = 0.0
        self._unread: tuple[float, str] | None = None
        """Since when and why the passes fail to read the ledger (its totals: at `_read_at`)."""
        self._unsaved = False
        """The stored state was unreadable, or a save failed: the next tick replaces it."""
        self._pause_unsaved = False
        """A person's pause or unpause not stored yet (its write failed): the next tick."""
        self.judged = False
        """A pass has judged the ledger (the first replays it whole): runtime/first_pass.py."""
        self._load()

    # -- the entry gate's view -----------------------------------------------------------------
    def refuse(self, symbol: str, now: float) -> str | None:
        """Why an entry on ``symbol`` is refused now (operator pause first, then each check)."""
        paused = self.paused  # read once: a person's unpause lands on the run loop's thread
        if paused is not None:
            return f"entries paused by {paused.get('by')}"
        for check in self.checks:
            reason = check.refuse(symbol, now)
            if reason is not None:
                return str(reason)
        return None

    # -- the run loop ----------------------------------------------------------------------------
    def tick(self, now: float | None = None) -> list[Trip]:
        with writes_within(self.store_s):  # the run loop's pass: never the writer's 60 s
            return self._tick(now)

    def _tick(self, now: float | None) -> list[Trip]:
        now = self.clock() if now is None else now
        before = self._encoded()  # a deep snapshot: the checks change their state in place
        try:
            self._feed(now)
        except Exception as exc:
            self._unread = self._unread or (now, describe(exc))  # since the first failure
            raise
        self._unread, self._read_at = None, now
        trips = [t for check in self.checks for t in check.evaluate(self.totals, now)]
        self.judged = True
        self.totals.stop_outs_checked()
        for trip in trips:  # first: a trip is in force (and never seen again) from here on, so
            self._alert(trip)  # a failed write below must not take its only alert with it
            self._journal_trip(trip)
        if self._encoded() != before or self._unsaved:
            self._unsaved = True  # a save that fails is tried again at the next tick
            self._save()
        if self._pause_unsaved:
            self._save_pause()
        self.sync_blocks(now)
        if self.on_trade is not None:  # a day that ended while the bot was down: its summary
            self.summaries.owed(self.on_trade, self.totals)
        return trips

    def catch_up(self) -> None:
        """Bring the totals up to the ledger's last row, for the status a stopping bot leaves
        behind: its actors booked fills after the run loop's last pass. Nothing else of a
        pass: no check runs, nothing is announced (the notifier has stopped) or saved (the
        next start replays the ledger into its totals)."""
        try:
            now = self.clock()
            self._feed(now, announce=False)
            self._unread, self._read_at = None, now
        except Exception as exc:  # noqa: BLE001 - the status keeps the last pass's totals
            self.log.warning("protections: final P&L totals not read: {}", describe(exc))

    def _feed(self, now: float, *, announce: bool = True) -> None:
        """Apply the ledger's new rows; the first call replays the whole ledger (a restart), in
        batches whose stop-outs all reach the checks. An unreadable row is skipped, said once.
        `announce`: tell `on_trade` what the new rows opened and closed."""
        while True:
            batch, positions = self._read_batch()
            for line in batch.skipped:
                self.log.error("protections: skipped an unreadable ledger row: {}", line)
            for p in positions:
                self._read_closed_at(p)
            day, day_net = self.totals.day, self.totals.day_total
            self.totals.apply(batch.fills, positions, now)
            self.totals.skip_to(batch.last_id)
            if self._replayed:
                if announce:
                    self._announce(positions, day, day_net)
            else:
                self._replay_news(batch.fills, positions, day_net, announce)
            if batch.size < FEED_BATCH:
                break
        self._replayed = True

    def _replay_news(self, fills: list[dict[str, Any]], positions: list[dict[str, Any]],
                     day_net: Decimal, announce: bool) -> None:
        """The replay (the first pass) holds what earlier runs announced: not again (a position
        open before the restart included). The first pass runs before the account's actors
        start (runtime/first_pass.py); only when it fails do they start first, and what they
        book until a pass succeeds (which is then the replay) is news: found by review, a stop
        that filled while the bot was down, booked by the start reconciliation, was read by the
        replay and never announced. A position opened or closed since the guard was built, or
        closed by a trade row written after the build, is announced."""
        traded = {f["position_id"] for f in fills
                  if f["id"] > self._built_fill and f.get("traded", True)}
        news = {p["position_id"] for p in positions if self._since_built(p)
                or (p["status"] == "closed" and p["position_id"] in traded)}
        self._open_seen.update(p["position_id"] for p in positions
                               if p["status"] == "open" and p["position_id"] not in news)
        if announce and news:
            self._announce([p for p in positions if p["position_id"] in news], 0.0, day_net,
                           only=news)

    def _last_fill_id(self) -> float:
        """The ledger's last row id; unreadable (the database away at the build): infinite,
        so only the closing time tells news, as it did before fills were dated by the venue
        (a close dated before the build then goes unannounced; every pass still counts it)."""
        try:
            return float(self.repo.read(reports.last_fill_id))
        except Exception:  # noqa: BLE001 - the first pass says what is wrong with the database
            return math.inf

    def _since_built(self, position: dict[str, Any]) -> bool:
        at = position["closed_at"] if position["status"] == "closed" else position["opened_at"]
        try:
            return at is not None and finite_time(at) >= self._built_at
        except (ValueError, TypeError, OverflowError):
            return False  # unreadable: as before the restart (never announced twice)

    def _read_closed_at(self, position: dict[str, Any]) -> None:
        """A closing time that cannot be read (a torn or hand-edited row) is said and dropped:
        the position still counts (money, win or loss) but not as a stop-out. Raising here
        failed the tick and left the batch's later positions never counted closed."""
        at = position["closed_at"]
        if at is None:
            return
        try:
            position["closed_at"] = finite_time(at)
        except (ValueError, TypeError, OverflowError) as exc:
            self.log.error("protections: positions row {!r}: closed_at {!r} unreadable ({}); "
                           "counted without it (not as a stop-out)",
                           position["position_id"], at, exc)
            position["closed_at"] = None

    def _read_batch(self) -> tuple[Any, list[dict[str, Any]]]:
        """The next ledger rows and their positions, as of one moment: the two are separate
        reads, and a close committed between them showed its position closed without its
        closing fill (found by review: a +4.90 trailing-stop close counted as a -0.05 loss,
        a stop-out that tripped the stop-loss guard). A close always writes a ledger row, so
        a ledger that did not grow between the first read and a third one proves the positions
        consistent with the rows; otherwise read again (3 tries: then LedgerTotals corrects
        the count when the row arrives). A full batch is a catch-up: the rows after it may
        hold the closing fills anyway, and the next batches correct the count."""
        for _ in range(3):
            batch = self.repo.read(reports.fills_after, self.totals.last_fill_id, FEED_BATCH)
            ids = sorted({f["position_id"] for f in batch.fills})
            positions = self.repo.read(reports.positions_by_id, ids)
            if batch.size >= FEED_BATCH:
                break
            again = self.repo.read(reports.fills_after, self.totals.last_fill_id, FEED_BATCH)
            if again.last_id == batch.last_id:
                break
        return batch, positions

    def sync_blocks(self, now: float) -> None:
        """Tell each running actor to block or allow entries when that changed (or the actor is
        a new incarnation, which starts unblocked unless the kill switch is on)."""
        for symbol, child in self.sup.children.items():
            reason = "kill switch" if self.sup.kill_switch else self.refuse(symbol, now)
            key = (child.incarnation, reason)
            if self._sent.get(symbol) == key:
                continue
            message = BlockEntries(blocked=reason is not None, reason=reason or "protections clear")
            if self.sup.tell(symbol, message):
                self._sent[symbol] = key

    def _announce(self, positions: list[dict[str, Any]], day: float, day_net: Decimal,
                  only: set[str] | None = None) -> None:
        """`only`: the closes of these positions (the replay's news), none of the others."""
        if self.on_trade is None:
            return
        for p in positions:
            if p["status"] == "open" and p["position_id"] not in self._open_seen:
                self._open_seen.add(p["position_id"])
                self.on_trade(f"opened {p['symbol']} {p['side']} {p['contracts']} @ "
                              f"{p['entry_price']}")
        for p, net in self.totals.closed_now:
            self._open_seen.discard(p["position_id"])
            if only is not None and p["position_id"] not in only:
                continue
            self.on_trade(f"closed {p['symbol']} {p['side']}: net {net:.4f} USDT "
                          f"({p['close_reason']})")
        if day and self.totals.day > day:  # the first tick of a new UTC day (a clock stepped
            # back over midnight is none: that day's summary went out, the next is not due)
            t = self.totals  # its rows dated yesterday are yesterday's (ledger_feed)
            net = t.prev_day_net if t.day - day == DAY_S else day_net
            self.summaries.send(self.on_trade, t, day, net)

    def _alert(self, trip: Trip) -> None:
        try:
            self.alert(trip.symbol, "protection", trip.reason, protection=trip.name)
        except Exception as exc:  # noqa: BLE001 - the trip is still saved and journaled
            self.log.error("protections: the {} alert failed: {}", trip.name, describe(exc))

    def _journal_trip(self, trip: Trip) -> None:
        data = {"protection": trip.name, "reason": trip.reason}
        try:
            self.repo.record(trip.symbol or ACCOUNT_SUBJECT, "ProtectionTripped", data,
                             correlation_id=uuid.uuid4().hex[:16])
        except Exception as exc:  # noqa: BLE001 - alerted already; one line says what is missing
            self.log.error("protections: {} tripped ({}) but its journal row was not written: "
                           "{}", trip.name, trip.reason, exc)

    # -- operator controls (through the control table, applied on the run loop) -----------------
    COMMANDS = ("pause", "unpause", "kill_switch", "kill_switch_reset", "reset_protection")

    def handles(self, command: str) -> bool:
        return command in self.COMMANDS

    def apply(self, command: str, symbol: str, args: dict[str, Any]) -> str:
        """A person's control, on the run loop: its writes (the kill switch reset's included)
        wait for the database `store_s` at most."""
        with writes_within(self.store_s):
            return self._apply(command, symbol, args)

    def _apply(self, command: str, symbol: str, args: dict[str, Any]) -> str:
        by, now = str(args.get("by") or "operator"), self.clock()
        if command == "pause":
            self.paused = {"by": by, "at": now}
            result = "entries paused" + self._stored(self._save_pause)
        elif command == "unpause":
            self.paused = None
            result = "entries allowed" + self._stored(self._save_pause)
        elif command == "kill_switch":
            if self.sup.kill_switch:
                result = "kill switch already on"  # a second click: no second alert
            else:
                self.sup.trip_kill_switch(f"tripped by {by}")
                result = "kill switch on"
            unstored = self.sup.kill_switch_stored()  # answered once a crash would keep it
            if unstored is not None:
                result = f"{result}, {unstored}"
        elif command == "kill_switch_reset":
            self.sup.reset_kill_switch(by)
            result = "kill switch off"
        else:
            result = self._reset(str(args.get("name") or ""), symbol, now)
        # every actor told afresh: the supervisor tells them of a kill switch it trips itself,
        # so what was last told here may not be what an actor holds (a person's action: rare)
        self._sent.clear()
        self.sync_blocks(now)
        return result

    def _reset(self, name: str, symbol: str, now: float) -> str:
        for check in self.checks:
            if check.name != name:
                continue
            if isinstance(check, StopLossGuard):
                check.reset(symbol, now, self.totals.last_fill_id)
            else:
                check.reset(self.totals, now)
            self._unsaved = True
            return f"{name} reset" + self._stored(self._save)
        return f"unknown protection {name!r}"

    # -- what the status dump shows --------------------------------------------------------------
    def status_fields(self, now: float) -> dict[str, Any]:
        rows = []
        for check in self.checks:
            if isinstance(check, StopLossGuard):
                rows += [{"name": check.name, "symbol": s, "tripped_since": e["since"],
                          "until": e["until"], "reason": e["reason"]}
                         for s, e in check.paused.items() if now < e["until"]]
            elif check.tripped_since is not None:
                rows.append({"name": check.name, "symbol": None,
                             "tripped_since": check.tripped_since, "until": None,
                             "reason": check.reason})
        # the totals are the ledger's once a pass has read it whole (the replay); until then
        # they are empty, not zero
        pnl = self.totals.summary() if self._replayed else unknown_summary(NOT_READ)
        if self._replayed and self._unread is not None:  # figures as of the last read
            pnl["not_current"] = (f"as of {_utc(self._read_at)}: the protections' passes fail "
                                  f"since {_utc(self._unread[0])} ({self._unread[1]})")
        return {"pnl": pnl, "protections": rows,
                "protections_configured": [c.name for c in self.checks],
                "entries_paused": self.paused}

    # -- persistence (meta rows; additive, no schema change) --------------------------------------
    def _state(self) -> dict[str, Any]:
        return {"checks": {c.name: c.state() for c in self.checks},
                "daily_reset_at": self.totals.daily_reset_at,
                "daily_reset_fill_id": self.totals.daily_reset_fill_id,
                "peak_reset_fill_id": self.totals.peak_reset_fill_id}

    def _encoded(self) -> str:
        return json.dumps(self._state(), default=str)

    def _save(self) -> None:
        self.repo.set_meta(STATE_KEY, self._encoded())
        self._unsaved = False

    def _save_pause(self) -> None:
        self._pause_unsaved = True
        self.repo.set_meta(PAUSE_KEY, "" if self.paused is None else json.dumps(self.paused))
        self._pause_unsaved = False

    def _stored(self, save: Callable[[], None]) -> str:
        """A person's control is in force once applied; a write that fails (the database gone
        for a moment) is said in its result and tried again at every tick (found by review:
        it raised, nothing wrote it again, and a restart forgot the pause or the reset)."""
        try:
            save()
        except Exception as exc:  # noqa: BLE001 - said in the result, stored at a later tick
            self.log.error("protections: a person's control is in force but not stored yet "
                           "({}); tried again at every pass", describe(exc))
            return f" (not stored yet: {describe(exc)}; a restart before it is would forget it)"
        return ""

    def _load(self) -> None:
        """The operator's pause and the saved trips, each row on its own. A row that cannot be
        read pauses entries (naming it) until a person unpauses: failing open would allow
        entries a saved trip or pause refuses."""
        # RecursionError: JSON nested too deep; ArithmeticError: int() of 1e999 (each stopped
        # the account's start, every symbol with it; found by review)
        try:
            paused = self.repo.get_meta(PAUSE_KEY) or ""
            self.paused = _pause(json.loads(paused)) if paused else None
        except (ValueError, TypeError, RecursionError) as exc:
            self._damaged(PAUSE_KEY, exc)
        try:
            self._restore(json.loads(self.repo.get_meta(STATE_KEY) or "{}"))
        except (ValueError, TypeError, AttributeError, KeyError, ArithmeticError,
                RecursionError) as exc:
            for check in self.checks:
                check.restore({})  # none half restored
            self._damaged(STATE_KEY, exc)

    def _restore(self, data: dict[str, Any]) -> None:
        daily_reset_at = finite_time(data.get("daily_reset_at") or 0.0)
        peak_reset_fill_id = int(data.get("peak_reset_fill_id") or 0)
        reset_fill = data.get("daily_reset_fill_id")
        daily_reset_fill_id = None if reset_fill is None else int(reset_fill)
        checks = data.get("checks") or {}
        for check in self.checks:
            check.restore(checks.get(check.name) or {})
        self.totals.daily_reset_at = daily_reset_at
        self.totals.daily_reset_fill_id = daily_reset_fill_id
        self.totals.peak_reset_fill_id = peak_reset_fill_id

    def _damaged(self, key: str, exc: Exception) -> None:
        by = f"protections: stored meta row '{key}' unreadable"
        self.log.error("{} ({}); entries paused until a person unpauses", by, describe(exc))
        self.paused, self._unsaved = {"by": by, "at": self.clock()}, True
        self.repo.set_meta(PAUSE_KEY, json.dumps(self.paused))


def _utc(at: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


def _pause(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise TypeError(f"expected an object (got {data!r})")
    return data
