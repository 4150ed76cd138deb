"""The stop-loss guard sees every stop-out of a tick, whatever the number of ledger batches it
takes, and rebuilds its recent stop-outs from the ledger after a restart (defect: only the last
batch's stop-outs reached it, so a ledger of more than one batch forgot them)."""

from __future__ import annotations

from pathlib import Path

from protections.guard import FEED_BATCH
from tests.protections.ledger_rig import BTC, ETH, T0, Ledger, protections

GUARD = protections(stoploss_guard_count=2)


def _filler(ledger: Ledger, n: int, at: float) -> None:
    """Another symbol's partial fills of one open position: no stop-out, no money."""
    ledger.fills([("eth-open", ETH, at, "0", "0") for _ in range(n)])


def test_a_restart_rebuilds_recent_stop_outs_from_an_earlier_batch(tmp_path: Path):
    ledger = Ledger(tmp_path)
    ledger.closed("btc1", BTC, "stop_loss", T0)
    _filler(ledger, FEED_BATCH, T0 + 1)  # the stop-out sits in the first of two batches
    guard = ledger.guard(GUARD, T0 + 100)  # after a restart: replays the whole ledger
    assert guard.tick(T0 + 100) == []
    ledger.closed("btc2", BTC, "stop_loss", T0 + 200)
    trips = guard.tick(T0 + 210)
    assert [(t.name, t.symbol) for t in trips] == [("stoploss_guard", BTC)]
    assert "2 stop-outs" in (guard.refuse(BTC, T0 + 210) or "")
    assert guard.refuse(ETH, T0 + 210) is None
    ledger.close()


def test_one_tick_spanning_batches_counts_the_stop_outs_of_each(tmp_path: Path):
    ledger = Ledger(tmp_path)
    guard = ledger.guard(GUARD, T0)
    guard.tick(T0)  # running, nothing booked yet
    ledger.closed("btc1", BTC, "stop_loss", T0 + 10)
    _filler(ledger, FEED_BATCH, T0 + 11)
    ledger.closed("btc2", BTC, "stop_loss", T0 + 20)
    trips = guard.tick(T0 + 30)
    assert [(t.name, t.symbol) for t in trips] == [("stoploss_guard", BTC)]
    assert guard.refuse(BTC, T0 + 30) is not None
    ledger.close()
