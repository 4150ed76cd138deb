"""The venue's stop capacity (trading/stop_capacity.py) is an account-wide cap like
`risk.max_open_positions`, and must hold the same way when many symbols want in at once.

Found by review: the check read the gate's count before the gate's lock, as every `EntryCheck`
is asked, and the count was compared again only against `max_open_positions`. Entries of a wave
that all read the count before any of them reserved were all let through: with the Binance cap
(200 conditional orders, 2 per position) a cap of 150 positions and a wave near 100 could open
more positions than the venue holds stops for, and the later ones stayed without a stop.

Real pykka actors, the paper exchange, the account gate. The interleaving the race needs (every
actor past the checks before any reserves) is made certain by an `EntryCheck` that lets the
actors on only once all of them have asked: a barrier, never a sleep. (Before the fix the
capacity was registered as a check ahead of it and all eight entries were sent.)"""

from __future__ import annotations

import threading
from typing import Any

from storage import queries
from tests.actors.test_entry_gate import EntryWatch, open_symbols, wave
from tests.support.harness import Harness
from trading.stop_capacity import ConditionalCap, StopCapacity

SYMBOLS = [f"V{i:02d}/USDT:USDT" for i in range(8)]
THREE = ConditionalCap(per_account=6, per_symbol=10, source="test venue")
"""Room for the stops of three positions (two conditional orders each)."""


class Rendezvous:
    """An `EntryCheck` that refuses nothing and holds each entry until `parties` have asked."""

    name = "rendezvous"

    def __init__(self, parties: int) -> None:
        self.barrier = threading.Barrier(parties)
        self.met = 0

    def refuse(self, symbol: str, now: float) -> str | None:
        try:
            self.barrier.wait(10)
            self.met += 1
        except threading.BrokenBarrierError:
            pass
        return None


def test_a_wave_never_opens_more_positions_than_the_venue_holds_stops_for(tmp_path):
    box: dict[str, EntryWatch] = {}

    def wrap(paper: Any) -> EntryWatch:
        box["watch"] = EntryWatch(paper)
        return box["watch"]

    h = Harness(tmp_path, SYMBOLS, wrap=wrap)  # no risk.max_open_positions: the venue's cap only
    meet = Rendezvous(len(SYMBOLS))  # asked before the gate's lock, as every EntryCheck
    h.gate.add_limit(StopCapacity(cap=THREE))
    h.gate.add_check(meet)
    h.start()
    try:
        h.poll()
        wave(h, SYMBOLS)
        for s in SYMBOLS:
            h.idle(s)
        assert meet.met == len(SYMBOLS)  # every entry had asked the capacity before any reserved
        watch = box["watch"]
        assert len(watch.entered) == 3 and watch.max_exposure <= 3
        assert len(open_symbols(h.paper)) == 3 and h.gate.open_positions() == 3
        refused = [e for e in h.repo.read(queries.events, None, "SignalSkipped")
                   if e["data"]["reason"].startswith("stop capacity: ")]
        assert {e["symbol"] for e in refused} == set(SYMBOLS) - open_symbols(h.paper)
        assert all("6 the venue allows per account (test venue)" in e["data"]["reason"]
                   for e in refused)
    finally:
        h.stop()
