"""The live chaos run (tests/e2e/live_chaos.py) for the hedge grid: `python bot.py` with
exchange.hedge_mode = true and strategy.name = "hedge_grid" against the Bybit emulator in hedge
mode (a long and a short leg per symbol, named by positionIdx; `--venue binanceusdm`: the
Binance USD-M emulator, legs named by positionSide LONG / SHORT), killed at the grid's moments
(tests/e2e/chaos_grid.py) and checked against the venue: the one-way run's ids, ledger and
wallet invariants, and per leg:

  protected  every leg open on the venue is tracked by the bot (same side, same contracts) and
             covered by a stop that only closes that leg (one covering its size: reduce-only,
             or on Binance the leg's closing side, reduceOnly being refused in hedge mode),
             within a bound (each leg on its own: clean at some poll within the bound)
  no_loop    no leg opened twice within one message (chaos_grid.py `repeated_openings`)

Run it directly for a long run:
  python -m tests.e2e.live_chaos_grid [--venue bybit|binanceusdm] --kills 30 [--dir DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

from tests.e2e.bot_process import write_config
from tests.e2e.chaos_files import ro
from tests.e2e.chaos_grid import GRID_MOMENTS, GridChaos
from tests.e2e.live_chaos import (
    LIVE_MOMENTS,
    LIVE_SYMBOLS,
    NATIVE,
    RECONCILE_S,
    SHARE,
    TICKS,
    LiveChaos,
    Venue,
)

ORDER_SIZE = {"bybit": 100, "binanceusdm": 200}
"""Binance's minimum order value is 100 USDT (MIN_NOTIONAL, BTCUSDT and ETHUSDT in the
emulator): 100 USDT rounded down to the lot step is below it, and a Binance grid run opened no
leg (`OpenSkipped` every 20 s)."""


def grid_config(path: Path, venue: Venue) -> Path:
    path = write_config(
        path, LIVE_SYMBOLS, bot={"mode": "live", "status_interval_s": 0.2},
        exchange={"id": venue.id, "api_url": venue.http.base_url, "ws_url": venue.ws.url,
                  "hedge_mode": True, "poll_interval_s": 0.2, "rate_limit_per_s": 1000.0,
                  "timeout_ms": 5000, "stream_stale_s": 5.0,
                  "rate_budget_share": SHARE[venue.id]},
        strategy={"name": "hedge_grid"},
        risk={"order_size_usdt": ORDER_SIZE[venue.id], "leverage": 5, "stop_loss_pct": 1.5},
        supervision={"reconcile_interval_s": RECONCILE_S[venue.id]}, logging={"console": False})
    path.write_text(path.read_text() + "[strategy.grid]\nlevels = 3\nstep_pct = 0.3\n"
                    "size_multiplier = 1.5\ntake_profit_pct = 0.3\nrecalc_pct = 0.8\n")
    return path


class LiveGridChaos(LiveChaos):
    def __init__(self, workdir: Path, seed: int = 1, venue_id: str = "bybit") -> None:
        super().__init__(workdir, seed=seed, venue_id=venue_id)
        self.moments = GRID_MOMENTS
        self.venue.book.hedge = True
        self.venue.book.fill_limits = True  # levels and take-profits fill (live_venue.py)
        self.sender = None  # the grid trades no external signals
        self.config = grid_config(workdir / "live-chaos-grid.toml", self.venue)

    def _unprotected(self) -> dict[str, str]:
        bot = ro(self.db)
        try:
            tracked = {(NATIVE[s], side): Decimal(c) for s, side, c in bot.execute(
                "SELECT symbol, side, contracts FROM positions WHERE status = 'open'")}
        finally:
            bot.close()
        with self.venue.book.lock:
            legs = {key: size for key, (size, _e) in self.venue.book.positions.items() if size}
            stops = [o for o in self.venue.book.orders.values()
                     if o.trigger is not None and o.status == "untriggered"]
        problems = {}
        for native in TICKS:
            for leg in ("long", "short"):
                size = abs(legs.get((native, leg), Decimal(0)))
                mine = tracked.get((native, leg))
                covering = [o.qty for o in stops if o.symbol == native
                            and self.venue.book.leg_of(o) == leg and self.venue.book.closes(o)]
                if size and (mine != size or not any(q >= size for q in covering)):
                    problems[f"{native} {leg}"] = (f"{native} {leg}: venue {size}, bot {mine}, "
                                                   f"stops {covering}")
                if not size and mine is not None:
                    problems[f"{native} {leg}"] = f"{native} {leg}: flat on the venue, bot {mine}"
        return problems

    _check_no_guesswork = GridChaos._check_no_guesswork


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venue", default="bybit", choices=list(LIVE_MOMENTS))
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", default=None, help="the run directory (kept)")
    a = ap.parse_args()
    workdir = Path(a.dir or tempfile.mkdtemp(prefix="live-chaos-grid-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report = LiveGridChaos(workdir, seed=a.seed, venue_id=a.venue).run(a.kills)
    report.show(30)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
