"""The emergency close and temporary exchange errors (found by review): one timeout, 5xx or rate
limit on reading the positions or the orders, or on cancelling the symbol's other orders, ended
the run with EmergencyCloseFailed and the close no longer owed: the escalated position stayed
open and nothing would ever close it. Each step is now tried again with a bounded backoff; a
cancel that keeps failing stops the close only when the order could open a position (an entry),
and then the close stays owed so the next start runs it again. Real paper exchange (its fault
injector answers the errors) and real SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal as D

from loguru import logger

from exchange import errors
from exchange.paper.exchange import PaperExchange
from runtime.emergency import OWED, EmergencyCloser
from storage import queries
from storage.repository import Repository
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices


def _setup(tmp_path):
    clock = FakeClock()
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC], clock=clock,
                          price_source=ScriptedPrices({BTC: D(100)}),
                          starting_balance=D(10000), slippage_bps=D(0))
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    waits: list[float] = []
    closer = EmergencyCloser(exchange=paper, repo=repo, prefix=f"acc-{repo.id_tag}-",
                             logger=logger, clock=clock, sleep=waits.append)
    paper.create_order(BTC, "market", "buy", D(1), None, {"clientOrderId": "in1"})
    return paper, repo, closer, waits


def _open(paper) -> list:
    return [p for p in paper.fetch_positions([BTC]) if p.contracts > 0]


def _run(closer, repo) -> None:
    repo.set_meta(OWED + BTC, "close failed 3 times")  # as the escalation commits it
    closer.close(BTC, "close failed 3 times")
    closer.wait()


ENTRY = ("buy", D(90), {"clientOrderId": "entry2"})  # could open a position
TAKE_PROFIT = ("sell", D(120), {"clientOrderId": "tp1", "reduceOnly": True})


@contextmanager
def closed_with_a_cancel_failing(tmp_path, order: tuple, error: Exception,
                                 times: int) -> Iterator[tuple]:
    """A long of 1 BTC with `order` (ENTRY or TAKE_PROFIT) resting beside it, its cancel
    failing `times` times with `error`; the emergency close run to its end. Yields the paper
    exchange, the repository and the closer's backoff waits; all closed after."""
    paper, repo, closer, waits = _setup(tmp_path)
    try:
        side, price, params = order
        paper.create_order(BTC, "limit", side, D(1), price, dict(params))
        paper.faults.fail_next("cancel_order", times, error)
        _run(closer, repo)
        yield paper, repo, waits
    finally:
        paper.faults.clear()
        repo.close()
        paper.close()


def test_a_cancel_failing_twice_with_a_temporary_error_is_retried_then_the_close_runs(tmp_path):
    with closed_with_a_cancel_failing(tmp_path, ENTRY, errors.ExchangeUnavailable("HTTP 503"),
                                      2) as (paper, repo, waits):
        assert _open(paper) == []
        assert paper.fetch_open_orders(BTC) == []  # the entry was cancelled before the close
        assert len(waits) == 2
        assert repo.read(queries.events, BTC, "EmergencyCloseFailed") == []
        assert repo.get_meta(OWED + BTC) == ""


def test_reads_failing_with_temporary_errors_are_retried_then_the_close_runs(tmp_path):
    paper, repo, closer, waits = _setup(tmp_path)
    try:
        paper.faults.fail_next("fetch_positions", 2, errors.RequestTimeout("timed out"))
        paper.faults.fail_next("fetch_open_orders", 2, errors.RateLimited("HTTP 429"))
        _run(closer, repo)
        assert _open(paper) == []
        assert len(waits) == 4
        assert repo.read(queries.events, BTC, "EmergencyCloseFailed") == []
    finally:
        repo.close()
        paper.close()


def test_an_entry_that_cannot_be_cancelled_stops_the_close_and_it_stays_owed(tmp_path):
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    try:
        with closed_with_a_cancel_failing(tmp_path, ENTRY, errors.ExchangeUnavailable("HTTP 502"),
                                          100) as (paper, repo, _):
            assert len(_open(paper)) == 1  # not closed while the entry could open a new position
            assert [s for s in paper.submissions() if s["clientOrderId"].endswith("x")] == []
            [failed] = repo.read(queries.events, BTC, "EmergencyCloseFailed")
            assert "not reduce-only" in failed["data"]["error"]
            assert repo.get_meta(OWED + BTC) == "close failed 3 times"  # the next start runs it
        assert any("emergency close failed" in line and "still owed" in line for line in lines)
    finally:
        logger.remove(sink)


def test_a_reduce_only_order_that_cannot_be_cancelled_does_not_stop_the_close(tmp_path):
    with closed_with_a_cancel_failing(tmp_path, TAKE_PROFIT, errors.RequestTimeout("timed out"),
                                      100) as (paper, repo, _):
        assert _open(paper) == []
        assert repo.read(queries.events, BTC, "EmergencyCloseFailed") == []
        assert repo.get_meta(OWED + BTC) == ""


class MarketDown:
    """The paper exchange whose market read fails `n` times with a temporary error (a markets
    reload answered 503); every other call goes to the paper exchange."""

    def __init__(self, paper, n: int) -> None:
        self.paper, self.n = paper, n

    def market(self, symbol):
        if self.n > 0:
            self.n -= 1
            raise errors.ExchangeUnavailable("HTTP 503 loading markets")
        return self.paper.market(symbol)

    def __getattr__(self, name):
        return getattr(self.paper, name)


def test_a_market_read_failing_twice_still_closes_in_slices_of_the_maximum(tmp_path):
    """A temporary error reading the market made the close send the whole position in one
    order; above the market's maximum the venue refuses it and the position stayed open."""
    clock = FakeClock()
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC], clock=clock,
                          price_source=ScriptedPrices({BTC: D(60000)}),
                          starting_balance=D(5_000_000), slippage_bps=D(0))
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    waits: list[float] = []
    closer = EmergencyCloser(exchange=MarketDown(paper, 2), repo=repo, prefix="acc-",
                             logger=logger, clock=clock, sleep=waits.append)
    try:
        for n, amount in enumerate((D(100), D(50))):  # 150 BTC, the maximum is 100
            paper.create_order(BTC, "market", "buy", amount, None, {"clientOrderId": f"in{n}"})
        _run(closer, repo)
        assert repo.read(queries.events, BTC, "EmergencyCloseFailed") == []
        assert _open(paper) == []
        sent = [s for s in paper.submissions() if s["side"] == "sell"]
        assert [D(s["amount"]) for s in sent] == [D(100), D(50)]
    finally:
        repo.close()
        paper.close()
