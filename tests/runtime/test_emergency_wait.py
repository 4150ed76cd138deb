"""Shutdown waits for stuck emergency closes with one deadline for all of them, and the closer
keeps no finished close threads (found by review)."""

from __future__ import annotations

import threading

from loguru import logger

from runtime.emergency import EmergencyCloser
from storage.repository import Repository


class StuckExchange:
    """fetch_positions blocks until released (a venue that does not answer); none held."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Semaphore(0)

    def fetch_positions(self, symbols):
        self.entered.release()
        self.release.wait()
        return []


class Clock:
    """Monotonic time: the deadline is set at 0, every later look finds it reached."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> float:
        self.calls += 1
        return 0.0 if self.calls == 1 else 600.0


def test_stuck_closes_share_one_shutdown_deadline(tmp_path):
    exchange = StuckExchange()
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    closer = EmergencyCloser(exchange=exchange, repo=repo, prefix="acc-", logger=logger,
                             monotonic=Clock())
    try:
        symbols = ["A/USDT:USDT", "B/USDT:USDT", "C/USDT:USDT"]
        for symbol in symbols:
            closer.close(symbol, "test")
        for _ in symbols:
            assert exchange.entered.acquire(timeout=20)
        # the first close's join used the whole 600 s: the others get none of their own
        waiter = threading.Thread(target=closer.wait, args=(600.0,), daemon=True)
        waiter.start()
        waiter.join(20)
        assert not waiter.is_alive(), "each stuck close got its own timeout"
        assert sorted(closer.running()) == sorted(symbols)
    finally:
        exchange.release.set()
        closer.wait()
        repo.close()


class FlatExchange:
    def fetch_positions(self, symbols):
        return []


def test_finished_close_threads_are_not_kept(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    closer = EmergencyCloser(exchange=FlatExchange(), repo=repo, prefix="acc-", logger=logger)
    try:
        for i in range(5):
            closer.close(f"S{i}/USDT:USDT", "test")
            closer.wait()
        assert closer.running() == []
        assert len(closer._threads) <= 1  # only the last one, the others were pruned
    finally:
        repo.close()
