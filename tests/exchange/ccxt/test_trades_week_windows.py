"""Both venues answer at most seven days of own trade history per request (Bybit
/v5/execution/list: only startTime -> startTime..+7 days; Binance /fapi/v1/userTrades: endTime -
startTime <= 7 days, ccxt 4.5.90 sends endTime = since + 7 days itself for an older since). The
reconciliation reads trades since the position opened in one call, so the closing fill of a
position held longer than a week (a liquidation, a close by hand) was never seen: the position
stayed open in the books and a stop was re-sent on a flat symbol every round (found by review
against the venues' docs; the emulators returned everything since startTime). Real ccxt classes
through the gateway against the emulators, which now keep the venues' window."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from actors import exchange_snapshot
from exchange.ccxt import own_fills
from tests.exchange.ccxt.ccxt_fixtures import PRICES, FakeTime, make_gateway, start_emulator
from tests.exchange.ccxt.emu_book import WEEK_MS, Book
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.test_bybit_liquidation import BTC, Liquidated, execution
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.model import Phase, Position, Side, SymbolState

DAY_MS = 86_400_000


def _open_long(book: Book, cid: str) -> int:
    book.place(cid=cid, symbol="BTCUSDT", side="buy", type="market", qty=D("0.01"), price=None,
               trigger=None, trigger_direction=None, reduce_only=False)
    return book.now_ms


def _state(opened_ms: int, cid: str) -> SymbolState:
    return SymbolState(symbol=BTC, phase=Phase.OPEN, position=Position(
        position_id=cid, side=Side.LONG, contracts=D("0.01"), entry_price=D("50000"),
        opened_at=opened_ms / 1000))


def _windows(hits: list[Any]) -> list[tuple[int, int | None]]:
    return [(int(h.params["startTime"]), int(h.params["endTime"]) if "endTime" in h.params
             else None) for h in hits if "startTime" in h.params]


def test_bybit_liquidation_three_weeks_after_the_entry_closes_the_position_in_the_books(
        tmp_path):
    venue = Liquidated(Book(PRICES))
    emu = EmulatorServer(venue).start()
    try:
        fake = FakeTime()
        gw = make_gateway("bybit", emu, tmp_path, fake=fake)
        gw.load_markets()
        opened = _open_long(venue.book, "acct-BTC-1-e")
        bust_at = opened + 20 * DAY_MS
        venue.forced += [execution("bust-1", "BustTrade", "45000", bust_at, "-50")]
        fake.now = (bust_at + 60_000) / 1000  # the bot's clock: a minute after the liquidation
        emu.clear()

        seen = exchange_snapshot.gather(gw, _state(opened, "acct-BTC-1-e"),
                                        booked={"acct-BTC-1-e"})

        assert seen.position is None
        assert [(f.client_order_id, f.amount, f.price) for f in seen.external_fills] == [
            ("trade-bust-1", D("0.01"), D("45000"))]
        d = SymbolCore(make_rules()).decide(_state(opened, "acct-BTC-1-e"), seen,
                                            fake.now + 1)
        assert d.state.position is None and d.state.phase is Phase.FLAT
        assert [j.realized_pnl for j in d.journal if j.type == "PositionClosed"] == [D("-50.00")]
        windows = _windows(emu.hits("/v5/execution/list"))
        assert windows, "trades were read"
        # every request within the venue's 7 days, the weeks cover entry -> now without a hole
        assert all(end is None or end - start <= WEEK_MS for start, end in windows)
        starts = sorted({s for s, _ in windows})
        assert starts[0] <= opened and starts[-1] + WEEK_MS >= bust_at
        assert all(b - a <= WEEK_MS for a, b in zip(starts, starts[1:], strict=False))
        gw.close()
    finally:
        emu.stop()


def test_binance_close_by_hand_nine_days_after_the_entry_is_read_as_the_closing_fill(tmp_path):
    emu = start_emulator("binanceusdm")
    try:
        fake = FakeTime()
        gw = make_gateway("binanceusdm", emu, tmp_path, fake=fake)
        gw.load_markets()
        book = emu.venue.book
        opened = _open_long(book, "acct-BTC-1-e")
        book.now_ms += 9 * DAY_MS  # nine days later the user closes it in the venue's app
        book.place(cid="web_closed_by_hand", symbol="BTCUSDT", side="sell", type="market",
                   qty=D("0.01"), price=None, trigger=None, trigger_direction=None,
                   reduce_only=True)
        fake.now = (book.now_ms + 60_000) / 1000
        emu.clear()

        seen = exchange_snapshot.gather(gw, _state(opened, "acct-BTC-1-e"),
                                        booked={"acct-BTC-1-e"})

        assert seen.position is None
        assert [(f.side, f.amount) for f in seen.external_fills] == [("sell", D("0.01"))]
        windows = _windows(emu.hits("/fapi/v1/userTrades"))
        assert len(windows) == 2 and windows[0][1] is not None
        assert windows[0][1] - windows[0][0] <= WEEK_MS
        gw.close()
    finally:
        emu.stop()


class WeekVenue:
    """A venue's trade list with its one-week window and its paging (Binance style: oldest
    first, `fromId` without times; Bybit style: newest first, a cursor), counting requests."""

    def __init__(self, style: str, times: list[int], now: int) -> None:
        self.style, self.now = style, now
        self.trades = [{"id": str(i + 1), "timestamp": t} for i, t in enumerate(sorted(times))]
        self.requests: list[tuple[int | None, dict[str, Any]]] = []

    def fetch(self, since: int | None, limit: int | None, params: dict[str, Any]) -> list[Any]:
        self.requests.append((since, dict(params)))
        limit = limit or 50
        if "fromId" in params:
            assert since is None and "until" not in params, "fromId takes no time bounds"
            rows = [t for t in self.trades if int(t["id"]) >= params["fromId"]]
            return rows[:limit]
        start = since if since is not None else self.now - WEEK_MS
        end = params.get("until", start + WEEK_MS)
        assert end - start <= WEEK_MS, "the venue refuses more than 7 days"
        rows = [t for t in self.trades if start <= t["timestamp"] <= end]
        if self.style == "binance":
            return rows[:limit]
        rows.reverse()
        first = int(params.get("cursor", 0))
        page = [dict(r) for r in rows[first:first + limit]]
        if len(rows) > first + limit and page:
            page[0]["info"] = {"nextPageCursor": str(first + limit)}
        return page


def test_every_trade_of_a_busy_month_once_in_both_paging_styles():
    start = 1_700_000_000_000
    # 30 days: a quiet stretch, a burst of 2,500 trades in one hour on day 9, one every 2 hours
    times = ([start + 9 * DAY_MS + i * 1000 for i in range(2500)]
             + [start + h * 7_200_000 for h in range(360)])
    now = start + 30 * DAY_MS
    for style in ("binance", "bybit"):
        venue = WeekVenue(style, times, now)
        got = own_fills.merged([own_fills.since_windows(venue.fetch, style, start, now)])
        assert sorted(int(t["id"]) for t in got) == list(range(1, len(times) + 1)), style
        assert len(venue.requests) < 60, (style, len(venue.requests))


def test_a_since_far_in_the_past_reads_six_months_at_most():
    now = 1_700_000_000_000
    venue = WeekVenue("bybit", [now - 400 * DAY_MS, now - 10 * DAY_MS], now)
    got = own_fills.since_windows(venue.fetch, "bybit", 0, now)
    assert [t["id"] for t in got] == ["2"]
    assert len(venue.requests) <= own_fills.LOOKBACK_MS // WEEK_MS + 1
