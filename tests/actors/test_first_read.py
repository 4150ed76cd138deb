"""At a live start every symbol's first reconciliation read its own position (twice), open
orders (Binance: and open algo orders) and price, one symbol at a time through the shared rate
budget: ~41 s (Bybit) and ~75 s (Binance) for 500 symbols. Now the account is read once and
each actor's first reconciliation is served from it (actors/first_read.py). Real actors, the
real ccxt gateway, the venue emulators on 127.0.0.1; requests counted at the emulator."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from loguru import logger

from actors.first_read import MAX_ROUNDS, AccountRead, FirstRead, SnapshotPort
from exchange.fence import Preempted
from exchange.records import VenueOrder, VenueOrderStatus, VenuePosition
from tests.actors.first_read_rig import (
    OPEN_ORDER_PATHS,
    POSITION_PATHS,
    TICKER_PATHS,
    actors,
    bases,
    symbol_of,
    venue,
)
from tests.support.clock import ManualClock

N = 8
HELD = bases(N)[3]


def hand_long(book, native: str) -> None:  # noqa: ANN001
    """A long opened by hand, no stop: the start must adopt and protect it."""
    book.place(cid="by-hand-1", symbol=native, side="buy", type="market", qty=Decimal("1"),
               price=None, trigger=None, trigger_direction=None, reduce_only=False)


@pytest.mark.parametrize("venue_id", ["bybit", "binanceusdm"])
def test_first_reconciliations_cost_account_wide_reads_not_per_symbol(tmp_path,  # noqa: ANN001
                                                                      venue_id: str) -> None:
    with venue(tmp_path, venue_id, N) as rig:
        hand_long(rig.book, f"{HELD}USDT")
        first = FirstRead(exchange=rig.gateway, symbols=rig.symbols, logger=logger)
        since = len(rig.emu.requests)
        with actors(rig, first) as views:
            held = symbol_of(HELD)
            assert views[held].view().position is not None and views[held].view().protected
            assert len(rig.stops(f"{HELD}USDT")) == 1
            reads = (POSITION_PATHS + OPEN_ORDER_PATHS + TICKER_PATHS)
            assert [(r.path, r.params["symbol"]) for r in rig.per_symbol(reads, since)] == []
            assert first.served == N
            # positions twice, open orders (Binance: and algo orders), tickers: the same few
            # whatever N
            assert len(rig.account_wide(reads, since)) <= 6, rig.account_wide(reads, since)


def test_a_symbol_whose_row_is_malformed_in_the_account_read_reads_on_its_own(
        tmp_path) -> None:  # noqa: ANN001
    """Its row in the account-wide position list names no entry price: that symbol alone
    reads its own position (which names it), adopts and protects it; the others are served."""
    with venue(tmp_path, "bybit", N) as rig:
        native = f"{HELD}USDT"
        hand_long(rig.book, native)
        rig.emu.venue.blank_in_list.add(native)
        first = FirstRead(exchange=rig.gateway, symbols=rig.symbols, logger=logger)
        since = len(rig.emu.requests)
        with actors(rig, first) as views:
            held = symbol_of(HELD)
            assert views[held].view().position is not None and views[held].view().protected
            assert len(rig.stops(native)) == 1
            own = rig.per_symbol(POSITION_PATHS + OPEN_ORDER_PATHS, since)
            assert own and {r.params["symbol"] for r in own} == {native}
            assert first.served == N - 1


def test_a_failed_account_read_leaves_every_symbol_to_its_own(tmp_path) -> None:  # noqa: ANN001
    """The account-wide position read fails (the venue answers 500 every time): every symbol
    reads on its own, the held one is adopted and protected all the same."""
    with venue(tmp_path, "bybit", 3) as rig:
        native = f"{bases(3)[1]}USDT"
        hand_long(rig.book, native)
        first = FirstRead(exchange=rig.gateway, symbols=rig.symbols, logger=logger)
        rig.emu.fail_next("/v5/position/list", 5, status=500, body="down")
        with actors(rig, first) as views:
            assert views[symbol_of(bases(3)[1])].view().protected
            assert first.served == 0


class AccountPort:
    """Answers the account-wide reads with nothing (or, given, the `positions` of each position
    read in turn, the last one again after them, and the `orders`) and counts the position
    reads."""

    def __init__(self, positions: list[list[VenuePosition]] | None = None,
                 orders: list[VenueOrder] | None = None) -> None:
        self.position_reads = 0
        self.positions = positions or []
        self.orders = orders or []

    def fetch_positions(self, symbols: Any = None, params: Any = None) -> list:
        assert symbols is None
        answers = self.positions
        answer = answers[min(self.position_reads, len(answers) - 1)] if answers else []
        self.position_reads += 1
        return list(answer)

    def fetch_open_orders(self, symbol: Any = None, *args: Any) -> list:
        assert symbol is None
        return list(self.orders)

    def fetch_tickers(self, symbols: Any = None) -> dict:
        return {}


def test_a_symbol_loaded_after_the_read_was_sent_is_served_by_the_next_one() -> None:
    """On a loaded machine the actors' loads came more than `quiet_s` apart: the read was led
    with most symbols not loaded yet, and every one loaded after it read on its own (a
    measured start: 437 of 500 symbols, 1,748 requests). Such a symbol waits for the next
    account read; a restarted incarnation still reads on its own."""
    port = AccountPort()
    first = FirstRead(exchange=port, symbols=["A", "B"], logger=logger, quiet_s=0.0)  # type: ignore[arg-type]
    first.loaded("A")
    assert isinstance(first.port("A", port), SnapshotPort)  # type: ignore[arg-type]
    first.loaded("B")  # after the first read was sent
    assert isinstance(first.port("B", port), SnapshotPort)  # type: ignore[arg-type]
    assert port.position_reads == 4 and first.served == 2  # two reads, each before and after
    first.loaded("A")  # a restarted incarnation
    assert first.port("A", port) is port  # type: ignore[arg-type]


class SetAsideOnce(AccountPort):
    """Its first position read is set aside, as the leading actor's is when its own order
    report arrives while the read waits in the rate budget."""

    def fetch_positions(self, symbols: Any = None, params: Any = None) -> list:
        if not self.position_reads:
            self.position_reads += 1
            raise Preempted("an order report is waiting")
        return super().fetch_positions(symbols, params)


def test_a_read_set_aside_for_its_leaders_order_report_is_taken_by_the_next_asker() -> None:
    port = SetAsideOnce()
    first = FirstRead(exchange=port, symbols=["A", "B"], logger=logger, quiet_s=0.0)  # type: ignore[arg-type]
    first.loaded("A")
    first.loaded("B")
    assert first.port("A", port) is port  # type: ignore[arg-type]  # its own read, set aside
    assert isinstance(first.port("B", port), SnapshotPort)  # type: ignore[arg-type]
    assert first.served == 1 and first.rounds == 2


@pytest.mark.slow  # 2,001 open orders, 41 pages
def test_an_open_order_list_read_only_in_part_is_not_served(tmp_path) -> None:  # noqa: ANN001
    """Bybit pages the account's open orders 50 at a time, newest first, and the gateway reads
    at most 40 pages (2,000 orders: a grid account of 150 symbols holds more). Served from
    such a list, a symbol whose order nobody owns was among the older ones cut off never saw
    it: the start's reconciliation left it resting (incident 9), and so did every sweep, which
    reads the same list. That list is no answer for the first reconciliations: each symbol
    reads its own, and the order is cancelled."""
    with venue(tmp_path, "bybit", 4) as rig:
        traded, orphan = rig.symbols[:3], f"{bases(4)[1]}USDT"
        rig.symbols = traded  # the fourth is listed by the venue, traded by another bot
        rig.book.place(cid="by-hand-orphan", symbol=orphan, side="buy", type="limit",
                       qty=Decimal("1"), price=Decimal("50"), trigger=None,
                       trigger_direction=None, reduce_only=False)
        for i in range(2000):  # newer: listed first, so the orphan is on the 41st page
            rig.book.place(cid=f"other-bot-{i}", symbol=f"{bases(4)[3]}USDT", side="buy",
                           type="limit", qty=Decimal("1"), price=Decimal("40"), trigger=None,
                           trigger_direction=None, reduce_only=False)
        first = FirstRead(exchange=rig.gateway, symbols=traded, logger=logger)
        with actors(rig, first):
            (order,) = [o for o in rig.book.orders.values() if o.cid == "by-hand-orphan"]
            assert order.status == "canceled", order.status
            assert first.served == 0


def position_row(symbol: str, contracts: str = "1", entry: str | None = "100") -> VenuePosition:
    return VenuePosition(symbol=symbol, side="long", contracts=Decimal(contracts),
                         entry_price=None if entry is None else Decimal(entry))


NAMELESS = VenueOrder(id=None, client_order_id=None, symbol="A", side="buy", type="limit",
                      status=VenueOrderStatus.OPEN, amount=Decimal("1"), price=Decimal("90"))


@pytest.mark.parametrize(("positions", "orders"), [
    ([[position_row("A", "1")], [position_row("A", "2")]], []),  # it filled during the read
    ([[position_row("A"), position_row("A")]], []),  # two rows of one position side
    ([[position_row("A", entry=None)]], []),  # no entry price
    ([], [NAMELESS]),  # an open order naming no id
], ids=["changed-between-reads", "two-rows", "no-entry-price", "order-without-id"])
def test_a_symbol_whose_part_of_the_read_is_doubtful_reads_on_its_own(
        positions: list[list[VenuePosition]], orders: list[VenueOrder]) -> None:
    """Served from a doubtful part, the first reconciliation would decide on it (a position
    listed before the orders and another after them: a fill in between, the orders read
    against neither; two rows of one side: which one is the position?). That symbol reads its
    own position, orders and price; the other symbol is served."""
    port = AccountPort(positions, orders)
    first = FirstRead(exchange=port, symbols=["A", "B"], logger=logger, quiet_s=0.0)  # type: ignore[arg-type]
    first.loaded("A")
    first.loaded("B")
    assert first.port("A", port) is port  # type: ignore[arg-type]
    assert isinstance(first.port("B", port), SnapshotPort)  # type: ignore[arg-type]
    assert first.served == 1 and first.rounds == 1


def test_a_symbol_loaded_after_the_last_read_of_a_start_is_not_served_by_it() -> None:
    """A start takes at most MAX_ROUNDS account reads; a symbol loaded after the last one was
    sent (a restarted incarnation, a slow load) may hold what was done after it (a position its
    predecessor opened, listed flat there): it reads on its own, never from an answer older
    than its load."""
    clock = ManualClock(0.0)
    port = AccountPort()
    names = [f"S{i}" for i in range(MAX_ROUNDS + 1)]
    first = FirstRead(exchange=port, symbols=[*names, "never-loads"], logger=logger,  # type: ignore[arg-type]
                      quiet_s=0.0, monotonic=clock)
    for name in names[:-1]:  # each loaded after the read before was sent: one read each
        clock.advance(1)
        first.loaded(name)
        clock.advance(1)
        assert isinstance(first.port(name, port), SnapshotPort)  # type: ignore[arg-type]
    assert first.rounds == MAX_ROUNDS
    clock.advance(1)
    first.loaded(names[-1])
    clock.advance(1)
    assert first.port(names[-1], port) is port  # type: ignore[arg-type]
    assert first.rounds == MAX_ROUNDS and first.served == MAX_ROUNDS


def test_the_snapshot_answers_only_its_own_symbols_reads() -> None:
    """Served from the read, a symbol's reconciliation gets its own rows, and only for a read
    of its own symbol: asked of another symbol or of the whole account, it asks the venue (a
    read of the account answered with one symbol's rows says every other symbol is flat)."""
    venue_port = AccountPort([[position_row("B", "3")]])
    read = AccountRead(sent_at=0.0, positions={"A": [position_row("A", "1")]})
    port = SnapshotPort(venue_port, read, "A")  # type: ignore[arg-type]
    assert port.fetch_positions(["A"]) == [position_row("A", "1")]
    assert port.fetch_positions(None) == [position_row("B", "3")]
    assert venue_port.position_reads == 1


class LoadsDuringTheRead(AccountPort):
    """A symbol's state loads while the account read is in flight (between its first and second
    position reads): the clock moves and `first.loaded` is called from inside the read."""

    def __init__(self, clock: ManualClock, symbol: str) -> None:
        super().__init__()
        self.clock, self.symbol = clock, symbol
        self.first: FirstRead | None = None

    def fetch_positions(self, symbols: Any = None, params: Any = None) -> list:
        if self.position_reads == 0 and self.first is not None:
            self.clock.advance(1)
            self.first.loaded(self.symbol)
            self.clock.advance(1)
        return super().fetch_positions(symbols, params)


def test_a_symbol_loaded_while_the_read_is_in_flight_waits_for_the_next_read() -> None:
    """The read's `sent_at` is taken before its first request: a state loaded after that (its
    predecessor may have opened a position the read lists flat) is not served by it. Stamped
    when the read returned, the symbol that loaded during it was served by it."""
    clock = ManualClock(0.0)
    port = LoadsDuringTheRead(clock, "B")
    first = FirstRead(exchange=port, symbols=["A", "B", "never-loads"], logger=logger,  # type: ignore[arg-type]
                      quiet_s=0.0, monotonic=clock)
    port.first = first
    first.loaded("A")
    clock.advance(1)
    assert isinstance(first.port("A", port), SnapshotPort)  # type: ignore[arg-type]
    assert first.rounds == 1
    clock.advance(1)
    assert isinstance(first.port("B", port), SnapshotPort)  # type: ignore[arg-type]
    assert first.rounds == 2 and port.position_reads == 4  # served by a read sent after it loaded
