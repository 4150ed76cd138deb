"""A stop that filled on the exchange while the bot was down is dated by the venue's fill time,
not by the restart that booked it. Found by review: the start reconciliation booked the stop's
fill (ledger row `created_at`) and the loss cooldown as of the restart, so a loss from
yesterday (UTC) counted toward today's daily loss limit, and the stop-loss guard's pause and
the cooldown after a loss started late (a bot down for hours: hours late).

Real actors, supervisor and SQLite, the paper exchange on a manual clock (tests/support/
harness.py); a restart is a new harness over the same files; the account's guard as the bot
builds it."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from loguru import logger

from protections.guard import AccountGuard, build_checks
from protections.ledger_feed import day_start
from storage import queries
from storage.repository import Repository
from tests.protections.ledger_rig import protections
from tests.support.clock import ManualClock
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.decision import fill_time
from trading.model import Side

BTC = "BTC/USDT:USDT"
COOLDOWN_S = 600.0
CFG = protections(daily_loss_limit_usdt=Decimal("0.01"), stoploss_guard_count=1,
                  stoploss_guard_window_s=600.0, stoploss_guard_pause_s=600.0)


def harness(tmp_path: Path, clock: ManualClock) -> Harness:
    """The bot, its database on the same clock as its actors and exchange (as time.time is)."""
    return Harness(tmp_path, [BTC], clock=clock, risk={"cooldown_after_loss_s": COOLDOWN_S},
                   repository=partial(Repository, clock=clock))  # type: ignore[arg-type]


def test_a_stop_filled_while_down_is_dated_by_its_fill(tmp_path: Path) -> None:
    h = harness(tmp_path, ManualClock()).start()
    h.poll()
    assert h.signal(BTC, Side.LONG)
    h.idle(BTC)
    (stop,) = h.exchange_stops(BTC)
    h.stop()  # the bot goes down; its stop rests on the exchange
    down = harness(tmp_path, h.clock)
    for _ in range(20000):  # the market walks through the stop while nobody watches
        h.clock.advance(60)
        down.paper.fetch_tickers([BTC])
        if down.exchange_position(BTC) is None:
            break
    assert down.exchange_position(BTC) is None, f"price never crossed {stop.trigger_price}"
    filled = down.paper.fetch_order(None, BTC, {"clientOrderId": stop.client_order_id})
    assert filled.last_fill_at is not None
    fill_s = filled.last_fill_at / 1000
    # the bot comes back the next UTC day
    h.clock.advance(day_start(h.clock()) + 86_400 + 3600 - h.clock())
    restart_s = h.clock()
    assert day_start(restart_s) > day_start(fill_s)
    guard = AccountGuard(repo=down.repo, sup=down.sup, checks=build_checks(CFG, Decimal(10000)),
                         base=Decimal(10000), alert=lambda *a, **k: None, logger=logger,
                         clock=h.clock)
    down.start()
    try:
        wait_until(lambda: down.view(BTC) and down.view(BTC).reconciled, message="reconciled")
        assert down.view(BTC).phase == "flat"
        [row] = [f for f in down.repo.read(queries.fills, BTC)
                 if f.client_order_id == stop.client_order_id]
        assert row.created_at == pytest.approx(fill_s, abs=1e-3)  # the venue's, not the restart's
        cooldown = down.repo.read(queries.actor_rows)[BTC].cooldown_until
        assert cooldown == pytest.approx(fill_s + COOLDOWN_S, abs=1e-3)  # from the fill: long over
        [position] = down.repo.read(queries.positions, BTC)
        assert position.closed_at == pytest.approx(fill_s, abs=1e-3)  # the trades list's time
        notices: list[str] = []
        guard.on_trade = notices.append
        guard.tick()
        assert guard.totals.day_net == 0  # yesterday's loss is not today's
        assert guard.refuse(BTC, restart_s) is None  # nor a pause that ended long ago
        # booked by this run: news, though it closed before the guard was built
        assert [n for n in notices if n.startswith(f"closed {BTC} long")], notices
    finally:
        down.stop()


def test_a_venue_time_is_bounded_by_the_order_and_the_booking() -> None:
    now, created = 1_800_000_000.0, 1_799_990_000.0
    assert fill_time(1_799_995_000_500, created, now) == 1_799_995_000.5
    assert fill_time(1_900_000_000_000, created, now) == now  # a venue clock far ahead
    assert fill_time(1_000, created, now) == created  # never before its order
    for malformed in (None, "1799995000000", 1.7e12, True, 0, -5):
        assert fill_time(malformed, created, now) is None  # the booking time stands


def test_a_close_found_only_in_the_trades_is_dated_by_its_trade(tmp_path: Path) -> None:
    """`closed_on_exchange`: closed by hand while the bot was down, an hour before the next UTC
    day's restart; the trade list tells when, the reconciliation books it dated so."""
    h = harness(tmp_path, ManualClock()).start()
    h.poll()
    assert h.signal(BTC, Side.LONG)
    h.idle(BTC)
    h.stop()
    down = harness(tmp_path, h.clock)
    for o in down.paper.fetch_open_orders(BTC):  # taken off by hand, with the position later
        down.paper.cancel_order(o.id, BTC)
    h.clock.advance(day_start(h.clock()) + 86_400 - 3600 - h.clock())  # 23:00 UTC
    pos = down.exchange_position(BTC)
    down.paper.create_order(BTC, "market", "sell", pos.contracts, None,
                            {"reduceOnly": True, "clientOrderId": "manual-close-1"})
    [trade] = [t for t in down.paper.fetch_my_trades(BTC)
               if t.client_order_id == "manual-close-1"]
    assert trade.timestamp is not None
    h.clock.advance(2 * 3600)  # 01:00 the next day
    down.start()
    try:
        wait_until(lambda: down.view(BTC) and down.view(BTC).reconciled, message="reconciled")
        [closed] = queries.events(BTC, "PositionClosed")
        assert closed["data"]["reason"] == "closed_on_exchange"
        [row] = [f for f in down.repo.read(queries.fills, BTC)
                 if f.client_order_id == "manual-close-1"]
        assert row.created_at == pytest.approx(trade.timestamp / 1000, abs=1e-3)
        cooldown = down.repo.read(queries.actor_rows)[BTC].cooldown_until
        assert Decimal(closed["data"]["net_pnl"]) < 0  # a loss (fees at least): a cooldown
        assert cooldown == pytest.approx(trade.timestamp / 1000 + COOLDOWN_S, abs=1e-3)
    finally:
        down.stop()
