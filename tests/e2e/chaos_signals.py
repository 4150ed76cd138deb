"""External signals over HTTP across kills: a sender thread and the invariants it must keep.

While the chaos run kills and restarts the bot, `SignalSender` posts signals to the bot's real
HTTP endpoint on 127.0.0.1: for one symbol a burst of entry, exit, entry, exit (the later ones
wait in the actor's mailbox while the earlier ones' orders are in flight, which is the moment a
kill loses a mailbox; a burst keeps that window ~100-200 ms wide), and now and then an id it
already had accepted, which must come back as a duplicate, also after a restart. Every answer
is kept with the time it arrived.

Invariants (`check_signals`, after every restart once the actors are reconciled):
  acknowledged   every signal answered 202 before the kill was journaled (SignalReceived)
  once           no signal id is received twice (a resend after a restart is a duplicate)
  terminal       every signal received before the restart is handled or skipped (or, an exit,
                 journaled waiting for the entry in flight: decided once it ends), and never
                 both handled and skipped as lost in a dead mailbox (an exit lost so is
                 handled after the restart, never skipped as lost)
  one_entry      no signal id caused more than one entry order
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

TOKEN = "chaos-signal-token"
LOST = "while the actor was down"


@dataclass(frozen=True, slots=True, kw_only=True)
class Sent:
    signal_id: str
    symbol: str
    side: str
    status: int | None
    """HTTP status; None when no answer came (the bot died or was down)."""
    answered_at: float
    """time.time() when the answer (or the failure) arrived."""
    resend: bool = False


class SignalSender:
    def __init__(self, *, port: int, symbols: list[str], seed: int, interval_s: float = 0.5,
                 prefix: str = "chaos") -> None:
        self.url = f"http://127.0.0.1:{port}/signals"
        self.symbols = symbols
        self.rng = random.Random(seed)
        self.interval_s = interval_s
        self.prefix = prefix
        self.sent: list[Sent] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="chaos-signals", daemon=True)
        self._seq = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def snapshot(self) -> list[Sent]:
        with self._lock:
            return list(self.sent)

    def _main(self) -> None:
        while not self._stop.wait(self.interval_s):
            accepted = [s for s in self.snapshot() if s.status == 202]
            if accepted and self.rng.random() < 0.2:
                old = self.rng.choice(accepted)
                self._post(old.signal_id, old.symbol, old.side, resend=True)
                continue
            symbol = self.rng.choice(self.symbols)
            side = self.rng.choice(["long", "short"])
            for s in (side, "exit", side, "exit"):
                if self._post(self._next_id(), symbol, s) is None:
                    break  # the bot is down

    def _next_id(self) -> str:
        self._seq += 1
        return f"{self.prefix}-{self._seq}"

    def _post(self, sid: str, symbol: str, side: str, resend: bool = False) -> int | None:
        body = json.dumps({"id": sid, "symbol": symbol, "side": side}).encode()
        req = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        status: int | None
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                status = resp.status
        except urllib.error.HTTPError as err:
            status = err.code
        except (OSError, urllib.error.URLError):
            status = None  # refused (bot down) or cut off by the kill: unknown outcome
        with self._lock:
            self.sent.append(Sent(signal_id=sid, symbol=symbol, side=side, status=status,
                                  answered_at=time.time(), resend=resend))
        return status


def _events(db: Path, types: tuple[str, ...]) -> list[tuple[str, str, str, float]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        con.execute("PRAGMA busy_timeout=30000")
        marks = ",".join("?" * len(types))
        return con.execute(f"SELECT type, correlation_id, data, recorded_at FROM events "
                           f"WHERE type IN ({marks})", types).fetchall()
    finally:
        con.close()


def check_signals(db: Path, sent: list[Sent], killed_at: float, restarted_at: float) -> list[str]:
    """Violations of the invariants above; `killed_at`/`restarted_at` are time.time() values."""
    rows = _events(db, ("SignalReceived", "SignalHandled", "SignalSkipped", "EntryRequested",
                        "SignalWaiting"))
    received = Counter(cid for t, cid, _, _ in rows if t == "SignalReceived")
    received_before = {cid for t, cid, _, at in rows if t == "SignalReceived" and at < restarted_at}
    handled = Counter(cid for t, cid, _, _ in rows if t == "SignalHandled")
    waiting = {cid for t, cid, _, _ in rows if t == "SignalWaiting"}  # an exit behind an entry
    skipped: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    for t, cid, data, _ in rows:
        if t == "SignalSkipped":
            sid = json.loads(data).get("signal_id") or cid
            skipped[sid] += 1
            lost[sid] += LOST in json.loads(data).get("reason", "")
    ours = {s.signal_id for s in sent}
    entries = Counter(cid for t, cid, _, _ in rows if t == "EntryRequested" and cid in ours)
    problems = []
    unjournaled = [s.signal_id for s in sent
                   if s.status == 202 and s.answered_at < killed_at and not received[s.signal_id]]
    if unjournaled:
        problems.append(f"signals answered 202 but not journaled: {unjournaled[:5]}")
    twice = [sid for sid, n in received.items() if n > 1 and sid in ours]
    if twice:
        problems.append(f"signal ids received twice: {twice[:5]}")
    open_ = [sid for sid in received_before
             if sid in ours and not handled[sid] and not skipped[sid] and sid not in waiting]
    if open_:
        problems.append(f"signals neither handled nor skipped after the restart: {open_[:5]}")
    both = [sid for sid in ours if handled[sid] and lost[sid] or handled[sid] > 1 or lost[sid] > 1]
    if both:
        problems.append(f"signals handled twice or handled and skipped as lost: {both[:5]}")
    double = [sid for sid, n in entries.items() if n > 1]
    if double:
        problems.append(f"signals that caused more than one entry: {double[:5]}")
    return problems


def lost_in_mailbox(db: Path, signal_id: str) -> bool:
    """The restarted actor recorded this signal as lost with the dead actor's mailbox: an
    entry skipped, an exit carried out after the restart (its SignalHandled says so) or
    waiting for an entry still in flight after it (its SignalWaiting says so)."""
    for _, cid, data, _ in _events(db, ("SignalSkipped", "SignalHandled", "SignalWaiting")):
        d = json.loads(data)
        if (d.get("signal_id") or cid) == signal_id and LOST in (d.get("reason") or ""):
            return True
    return False
