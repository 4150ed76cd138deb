"""Chaos run in LIVE mode: `python bot.py` against a venue emulator (Bybit v5 or Binance USD-M,
HTTP and WebSocket on 127.0.0.1), SIGKILLed at chosen moments and restarted, as the paper chaos
run (tests/e2e/chaos.py) does. Every restart takes the live path: the ccxt gateway, the rate
budget, the venue's streams, the account's first read (actors/first_read.py), reconciliation by
client order id against the venue, fees from the venue's trade records.

The emulator holds the venue's truth in this process (orders with client ids, positions, fills
with fees, stops that fire), so it outlives every kill: the invariants are checked against it.
The test drives the market (tests/e2e/live_venue.py): prices move in trends (`Mover`), entry
signals open flat symbols (`Opener`) and the paper run's signal bursts (chaos_signals.py) enter
and exit over HTTP, so stops fire and trailing stops move (Bybit: amended in place). Every
order-changing request is answered `LATENCY_S` late, after the venue processed it: the window
in which an order is in flight (intent committed, answer not) is that wide; `--hold N` holds
every Nth answer past the bot's timeout (the order landed, the bot looks it up by client id).

Invariants after every restart (besides the paper run's journal, log and signal checks):
  unique_ids  no client order id reached the venue twice (the emulator's request log)
  protected   every open position on the venue is tracked by the bot (same side and size) and
              covered by exactly one reduce-only stop of the closing side and the position's
              size, within a bound after the restart (each symbol on its own: clean at some
              poll within the bound)
  ledger      per order, the bot's fills equal the venue's (amount, average price, fee, realized
              P&L): nothing booked twice, nothing missing after reconciliation
  wallet      at the end: the ledger's realized P&L minus fees equals the venue's wallet change,
              to the cent

Run it directly for a long run:  python -m tests.e2e.live_chaos --venue bybit --kills 30 --hold 7
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.e2e.bot_process import start_bot, write_config
from tests.e2e.chaos import Chaos, free_port
from tests.e2e.chaos_files import ro, wait_reconciled
from tests.e2e.chaos_moments import MOMENTS, Moment, Probe
from tests.e2e.chaos_signals import TOKEN, SignalSender
from tests.e2e.live_venue import (
    HOLD_S,
    LIVE_SYMBOLS,
    NATIVE,
    START_BALANCE,
    TICKS,
    TIMEOUT_MS,
    Mover,
    Opener,
    Venue,
)
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET

CENT = Decimal("0.01")
RECONCILE_S = {"bybit": 3, "binanceusdm": 6}
SHARE = {"bybit": 0.5, "binanceusdm": 1.0}
"""Binance's sweep of every symbol asks ~85 weight: each 3 s it took more than the bot's share
of 2,400 a minute and the REST reads were refused (as in tests/e2e/test_live_streams.py)."""


def _amend_in_flight(p: Probe) -> str | None:
    """A stop move journaled by this process (StopMoveRequested), its amend's answer not, and
    no new stop placed for it (a move of a stop whose venue id is unknown places a new one):
    the amend is in flight (Bybit moves a stop in place)."""
    rows = p.query(
        "SELECT e.symbol, e.id FROM events e WHERE e.type = 'StopMoveRequested' AND "
        "e.recorded_at >= ? AND NOT EXISTS (SELECT 1 FROM events f WHERE f.symbol = e.symbol "
        "AND f.id > e.id AND f.type IN ('StopAmended', 'StopAmendFailed')) AND NOT EXISTS "
        "(SELECT 1 FROM orders o WHERE o.symbol = e.symbol AND o.purpose = 'stop' AND "
        "o.created_at >= e.created_at) LIMIT 1", p.since)
    return " ".join(str(v) for v in rows[0]) if rows else None


COMMON = ("startup", "entry_in_flight", "first_stop_in_flight", "close_in_flight", "random")
LIVE_MOMENTS: dict[str, dict[str, Moment]] = {
    "bybit": {**{k: MOMENTS[k] for k in COMMON[:3]},
              "amend_in_flight": Moment(name="amend_in_flight", what="a stop amend in flight",
                                        inside=_amend_in_flight),
              **{k: MOMENTS[k] for k in COMMON[3:]}},
    "binanceusdm": {**{k: MOMENTS[k] for k in COMMON[:3]},
                    "stop_move_in_flight": MOMENTS["stop_move_in_flight"],
                    **{k: MOMENTS[k] for k in COMMON[3:]}},
}


def live_config(path: Path, venue: Venue, signal_port: int) -> Path:
    return write_config(
        path, LIVE_SYMBOLS, bot={"mode": "live", "status_interval_s": 0.2},
        exchange={"id": venue.id, "api_url": venue.http.base_url, "ws_url": venue.ws.url,
                  "poll_interval_s": 0.2, "rate_limit_per_s": 1000.0, "timeout_ms": TIMEOUT_MS,
                  "stream_stale_s": 5.0, "rate_budget_share": SHARE[venue.id]},
        # entries by signal (`Opener`, `SignalSender`): the strategy's own exits (a window of 5
        # mean-reverts within a second) closed most positions before a trailing stop moved
        strategy={"window": 10000},
        risk={"order_size_usdt": 200, "stop_loss_pct": 0.4, "trailing_activation_pct": 0.15,
              "trailing_callback_pct": 0.1, "trailing_step_pct": 0.03,
              "cooldown_after_loss_s": 0},
        supervision={"reconcile_interval_s": RECONCILE_S[venue.id]},
        signals={"enabled": True, "port": signal_port},
        logging={"console": False})


class LiveChaos(Chaos):
    symbols = LIVE_SYMBOLS

    def __init__(self, workdir: Path, seed: int = 1, venue_id: str = "bybit",
                 hold_every: int = 0) -> None:
        super().__init__(workdir, seed=seed, signals=False)
        self.moments = LIVE_MOMENTS[venue_id]
        self.venue = Venue(venue_id, hold_every)
        port = free_port()
        self.config = live_config(workdir / "live-chaos.toml", self.venue, port)
        self.sender = SignalSender(port=port, symbols=LIVE_SYMBOLS, seed=seed, interval_s=2.5,
                                   prefix=f"live-{venue_id}")
        self.mover = Mover(self.venue.book, seed)
        self.opener = Opener(self.sender.url, self.venue, seed)

    def start(self) -> float:
        self.log_offset = self.bot_log.stat().st_size if self.bot_log.exists() else 0
        self.started_at = time.time()
        env = {**os.environ, "BOT_SIGNAL_TOKEN": TOKEN, "BOT_API_KEY": API_KEY,
               "BOT_API_SECRET": API_SECRET}
        self.proc = start_bot(self.config, self.data, env=env, stderr_to=self.stderr)
        return self.started_at

    def run(self, kills: int) -> Any:
        self.mover.start()
        if self.sender is not None:
            self.opener.start()
        try:
            return super().run(kills)
        finally:
            self.opener.stop()
            self.mover.stop()
            self.venue.dump(self.dir / "venue-history.jsonl")
            self.venue.stop()

    def _one_kill(self, n: int) -> float:
        """The test steers the market towards the moment this kill waits for."""
        target = self._choose(n)
        self.opener.focus = target
        self.mover.favour = target in ("amend_in_flight", "stop_move_in_flight")
        return super()._one_kill(n)

    def _check_protected(self, bound_s: float = 5.0) -> None:
        """A held answer (`hold_every`) leaves the bot blind to its order for up to `HOLD_S`
        (the actor waits in the call): the bound is that much longer then."""
        if self.venue.held:
            bound_s += HOLD_S + 2
        before = len(self.report.violations)
        super()._check_protected(bound_s)
        if len(self.report.violations) > before:
            self.report.violations[-1] += f" (at {time.strftime('%H:%M:%S')})"

    def _check_unique_ids(self) -> None:
        dups = self.venue.sent_twice()
        self.report.check(not dups, f"client order ids sent to the venue twice: {dups[:5]}")

    def _unprotected(self) -> dict[str, str]:
        venue_positions = self.venue.positions()
        bot = ro(self.db)
        try:
            tracked = {NATIVE[s]: (side, Decimal(c)) for s, side, c in bot.execute(
                "SELECT symbol, side, contracts FROM positions WHERE status = 'open'")}
        finally:
            bot.close()
        problems = {}
        for native in TICKS:
            size = venue_positions.get(native, Decimal(0))
            mine = tracked.get(native)
            stops = self.venue.stops(native)
            if not size:
                if mine is not None or stops:
                    problems[native] = (f"{native}: flat on the venue, bot {mine}, "
                                        f"stops {[(o.cid, o.qty) for o in stops]}")
                continue
            side, closing = ("long", "sell") if size > 0 else ("short", "buy")
            good = [o for o in stops if o.reduce_only and o.side == closing and o.qty == abs(size)]
            if mine != (side, abs(size)) or len(good) != 1 or len(stops) != 1:
                problems[native] = (f"{native}: venue {size}, bot {mine}, stops "
                                    f"{[(o.cid, o.side, o.qty, o.reduce_only) for o in stops]}")
        return problems

    def _check_ledger(self, before_ms: int | None, bound_s: float = 10.0) -> None:
        """Within `bound_s` (the bot's read and the venue's race with the trading going on)."""
        deadline = time.monotonic() + bound_s
        problems = self._ledger_problems(before_ms)
        while problems and time.monotonic() < deadline:
            time.sleep(0.1)
            problems = self._ledger_problems(before_ms)
        self.report.check(not problems, f"ledger within {bound_s}s: {problems[:5]}")

    def _ledger_problems(self, before_ms: int | None) -> list[str]:
        """A fee the venue's order answer does not carry (Binance) is booked late, from the
        order's trades (trading/late_fees.py), up to minutes after its fill: until then the
        bot must hold it as owed (`actor_state.fees_owed`, surviving a kill) or the order must
        still be live in its books; only the fee may differ then, and only by being lower."""
        owed = fees_owed(self.db)  # the bot first: it books a fill only after the venue made it
        mine = booked(self.db)
        theirs = self.venue.fills()
        problems = []
        for cid, b in mine.items():
            v = theirs.get(cid)
            if v is not None and v[:4] != b[:4] and cid in owed and b[2] < v[2] \
                    and (b[0], b[1], b[3]) == (v[0], v[1], v[3]):
                continue
            if v is None or v[:4] != b[:4]:
                problems.append(f"booked {cid} amount/notional/fee/realized {b[:4]} but the "
                                f"venue has {v and v[:4]}")
        if before_ms is not None:
            problems += [f"venue fills of {c} never booked" for c, v in theirs.items()
                         if v[4] < before_ms - 1000 and c not in mine]
        return problems

    def _settled(self, change: Decimal) -> bool:
        """Every venue fill booked and the ledger's net equal to the wallet's change."""
        mine = booked(self.db)
        return mine.keys() == self.venue.fills().keys() and abs(_net(mine) - change) < CENT

    def _change(self) -> Decimal:
        with self.venue.book.lock:
            return self.venue.book.balance - START_BALANCE

    def _final_check(self) -> None:
        """Prices stop; a last start reconciles and books every fill the venue made; then the
        ledger equals the venue's, order by order, and its P&L the wallet's change."""
        self.opener.stop()
        self.mover.stop()
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.report.check(self.proc.returncode == 0,
                          f"final SIGTERM exit code {self.proc.returncode}")
        stopped_at, t0 = time.time(), self.start()
        pending = wait_reconciled(self.data, self.proc.pid)
        self.report.check(pending is None, f"final start: not all reconciled within 60s: {pending}")
        self._check_signals(stopped_at, t0)
        self._check_protected()
        deadline = time.monotonic() + 90  # a Binance fee owed across a kill (its order's
        # answer had none) is booked by a look of this start, not always before its reconciled
        # mark (a CI run checked at once: the ledger high by one fee, 0.1088, held as owed)
        while time.monotonic() < deadline and not self._settled(self._change()):
            time.sleep(0.1)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        # the wallet once the bot is stopped: this start trades too (the grid reopens a flat
        # leg at once; read before, a live grid run's three entries of this start, 0.1046 of
        # fees, were in the ledger and not in the wallet's change)
        change = self._change()
        self._check_ledger(before_ms=int(time.time() * 1000) + 1000)
        mine = booked(self.db)
        total = _net(mine)
        self.report.check(abs(total - change) < CENT,
                          f"wallet: ledger realized - fees {total} != venue change {change}")
        self.report.evidence.append(self.venue.tally(mine, total, change))


def _net(mine: dict[str, Any]) -> Decimal:
    """The ledger's realized P&L minus fees over `booked` rows."""
    return sum((v[3] - v[2] for v in mine.values()), Decimal(0))


def fees_owed(db: Path) -> set[str]:
    """What the bot holds as owed fees (the ended orders' JSON lists, all symbols) and the
    client ids of the orders still live in its books: a fee may still be told for those. A hedge
    grid keeps both in its document (`grid_state.data`: `fees_owed`, `orders`), not in
    actor_state and the orders table: read from there only, a live Binance grid run (seed 4991)
    saw two entries' fees, owed and booked late 5 s after their fills, as ledger violations."""
    con = ro(db)
    try:
        owed = " ".join(r[0] or "" for r in con.execute("SELECT fees_owed FROM actor_state"))
        live = " ".join(r[0] for r in con.execute(
            "SELECT client_order_id FROM orders WHERE status IN ('pending', 'open')"))
        grids = [json.loads(r[0]) for r in con.execute("SELECT data FROM grid_state")] if (
            con.execute("SELECT 1 FROM sqlite_master WHERE name = 'grid_state'").fetchone()) else []
    finally:
        con.close()
    grid = " ".join([o["order"]["client_order_id"] for g in grids for o in g.get("fees_owed") or []]
                    + [o["client_order_id"] for g in grids for o in g.get("orders") or []
                       if o.get("status") in ("pending", "open")])
    return set(re.findall(r"[\w.:/-]+", f"{owed} {live} {grid}"))


def booked(db: Path) -> dict[str, tuple[Decimal, Decimal, Decimal, Decimal, int]]:
    """Per client id: (amount, notional, fee, realized, rows) of the bot's ledger."""
    con = ro(db)
    try:
        rows = con.execute("SELECT client_order_id, amount, price, fee, realized_pnl FROM fills "
                           "WHERE client_order_id NOT LIKE 'funding-%'").fetchall()
    finally:
        con.close()
    out: dict[str, list] = {}
    for cid, amount, price, fee, realized in rows:
        a = out.setdefault(cid, [Decimal(0)] * 4 + [0])
        a[0] += Decimal(amount)
        a[1] += Decimal(amount) * Decimal(price)
        a[2] += Decimal(fee)
        a[3] += Decimal(realized)
        a[4] += 1
    return {k: tuple(v) for k, v in out.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venue", default="bybit", choices=list(LIVE_MOMENTS))
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--hold", type=int, default=0,
                    help="hold every Nth order-changing answer past the bot's timeout")
    a = ap.parse_args()
    workdir = Path(a.dir or tempfile.mkdtemp(prefix=f"live-chaos-{a.venue}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report = LiveChaos(workdir, seed=a.seed, venue_id=a.venue, hold_every=a.hold).run(a.kills)
    report.show(30)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
