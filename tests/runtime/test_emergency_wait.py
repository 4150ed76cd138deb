"""Shutdown waits for stuck emergency closes with one deadline for all of them, and the closer
keeps no finished close threads (found by review)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from loguru import logger

from exchange.errors import OrderNotFound
from exchange.records import VenueOrder, VenueOrderStatus, VenuePosition
from runtime.emergency import EmergencyCloser
from storage import queries
from storage.repository import Repository
from tests.exchange.paper.paper_support import BTC

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def closer_on(tmp_path: Path, exchange: Any,
              **kwargs: Any) -> Iterator[tuple[EmergencyCloser, Repository]]:
    """An emergency closer (`kwargs`: its own) on `exchange` and a real SQLite repository,
    closed after."""
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    try:
        yield EmergencyCloser(exchange=exchange, repo=repo, prefix="acc-", logger=logger,
                              **kwargs), repo
    finally:
        repo.close()


def closes_the_long_in_one_order(tmp_path: Path, exchange: Any) -> None:
    """The close of BTC runs to its end: one market sell of the long's 2, no failure."""
    with closer_on(tmp_path, exchange) as (closer, repo):
        closer.close(BTC, "test")
        closer.wait()
        assert exchange.sent == [(BTC, "market", "sell", D(2))]
        assert repo.read(queries.events, BTC, "EmergencyCloseFailed") == []


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
    with closer_on(tmp_path, exchange, monotonic=Clock()) as (closer, _):
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


class FlatExchange:
    def fetch_positions(self, symbols):
        return []


def test_finished_close_threads_are_not_kept(tmp_path):
    with closer_on(tmp_path, FlatExchange()) as (closer, _):
        for i in range(5):
            closer.close(f"S{i}/USDT:USDT", "test")
            closer.wait()
        assert closer.running() == []
        assert len(closer._threads) <= 1  # only the last one, the others were pruned


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text")


class BrokenExchange:
    """A library error whose str() raises (seen: observability/error_text.py)."""

    def fetch_positions(self, symbols):
        raise Unprintable()


def test_a_failure_whose_text_cannot_be_read_is_still_journaled(tmp_path):
    """The failed run's record took str(exc): an exception whose str() raises escaped the
    except, ended the close thread with a traceback and left no EmergencyCloseFailed."""
    done = threading.Event()
    with closer_on(tmp_path, BrokenExchange()) as (closer, repo):
        closer.close(BTC, "test", done.set)
        closer.wait()
        assert done.is_set()
        failed = repo.read(queries.events, BTC, "EmergencyCloseFailed")
        assert [e["data"]["error"] for e in failed] == ["Unprintable"]


class NoMarketExchange:
    """Holds a long; its market cannot be read, with an error whose str() raises."""

    def __init__(self) -> None:
        self.sent: list[tuple] = []

    def fetch_positions(self, symbols):
        return [VenuePosition(symbol=BTC, side="long", contracts=D(2), entry_price=D(100))]

    def fetch_open_orders(self, symbol):
        return []

    def market(self, symbol):
        raise Unprintable()

    def create_order(self, symbol, kind, side, amount, price, params):
        self.sent.append((symbol, kind, side, amount))


def test_a_market_read_failing_with_unreadable_text_still_closes_in_one_order(tmp_path):
    """The warning formatted the exception itself: its str() raising turned the warning into
    the run's failure, and no close was sent."""
    closes_the_long_in_one_order(tmp_path, NoMarketExchange())


LOCKED_CHILD = """
import sys
from loguru import logger
from runtime.emergency import EmergencyCloser
logger.remove()
logger.add(sys.stderr, format="{message}")

class Venue:
    def fetch_positions(self, symbols):
        raise RuntimeError("venue down")

class LockedRepo:
    def set_meta(self, key, value):
        pass
    def record(self, *args, **kwargs):
        raise RuntimeError("database is locked")

closer = EmergencyCloser(exchange=Venue(), repo=LockedRepo(), prefix="acc-", logger=logger)
closer.close("BTC/USDT:USDT", "test", lambda: print("done"))
closer.wait()
"""


def test_a_failure_that_cannot_be_journaled_is_one_line_not_a_traceback(tmp_path):
    """The close failed and its EmergencyCloseFailed record failed too (database locked, or
    closed under a close still running at shutdown): the record's error escaped the close
    thread as a traceback on stderr."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", LOCKED_CHILD], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "done\n", done
    assert "Traceback" not in done.stderr, done.stderr
    assert "could not record its failure: RuntimeError: database is locked" in done.stderr


def test_a_close_asked_again_while_one_runs_is_not_run_beside_it(tmp_path):
    exchange = StuckExchange()
    with closer_on(tmp_path, exchange) as (closer, _):
        try:
            closer.close(BTC, "close attempts exhausted")
            assert exchange.entered.acquire(timeout=20)
            closer.close(BTC, "crash loop")  # a second escalation while the first waits
            closer.close("ETH/USDT:USDT", "other")  # another symbol's close runs at once
            assert exchange.entered.acquire(timeout=20)
            assert closer.running() == [BTC, "ETH/USDT:USDT"]
        finally:
            exchange.release.set()
            closer.wait()
    # BTC's venue was read once more after the first close ended (the second escalation's
    # run, reading the positions again), never beside it: running() listed one BTC close
    assert exchange.entered.acquire(timeout=0)
    assert not exchange.entered.acquire(timeout=0)


class RacedCancelExchange(NoMarketExchange):
    """Lists a resting entry order that fills (or is cancelled) before its cancel arrives."""

    def fetch_open_orders(self, symbol):
        return [VenueOrder(id="o1", client_order_id="acc-e1", symbol=BTC, side="buy",
                           type="limit", status=VenueOrderStatus.OPEN, amount=D(1),
                           price=D(90))]

    def cancel_order(self, id, symbol, params=None):
        raise OrderNotFound("binanceusdm Unknown order sent.")

    def market(self, symbol):
        return type("Market", (), {"max_amount": None})()


def test_an_order_gone_before_its_cancel_does_not_stop_the_close(tmp_path):
    closes_the_long_in_one_order(tmp_path, RacedCancelExchange())
