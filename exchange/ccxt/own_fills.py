"""Own fills from REST (the streams' gap fill and the REST-only feed), at the venue's cheapest.

Venues whose trade history needs a symbol (Binance `userTrades`, weight 5 per symbol) would
cost 5 x 500 per poll if every configured symbol were asked; `ActiveSymbols` narrows the
poll to the symbols that can have new fills. Each trade is returned once (`OwnFills`).
A poll reads every page of trades since its start (`all_pages`): Bybit's execution list
answers 50 rows unless asked for up to 100, Binance's userTrades 500 unless asked for up to
1,000, and a poll that read one default page lost the rest of a busy interval for good.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import ccxt
from loguru import logger

from exchange.ccxt.active_symbols import ActiveSymbols
from exchange.ccxt.answer_rows import parsed_trade
from exchange.ccxt.errors import UNREADABLE
from exchange.records import VenueFill, VenuePosition

SEEN_TRADES = 20_000
"""Trade ids remembered: far more than any poll window holds."""
PAGE_ROWS = {"bybit": 100, "binance": 1000}
"""Own trades asked per page, by the venue's lookup style (`order_params.Venue.lookup`): the
venue's maximum (Bybit /v5/execution/list `limit` 1-100, default 50; Binance USDⓈ-M
/fapi/v1/userTrades `limit` up to 1,000, default 500). Other venues: ccxt's default, one page."""
MAX_PAGES = 50
"""Pages read in one poll at most (5,000 Bybit rows, 50,000 Binance rows)."""
WEEK_MS = 7 * 86_400_000
"""The longest stretch of trade history one request answers on both venues: Bybit
/v5/execution/list gives startTime..startTime + 7 days when only startTime is sent (endTime -
startTime <= 7 days when both are), Binance /fapi/v1/userTrades refuses a longer startTime..
endTime and ccxt 4.5.90 sends endTime = since + 7 days itself for an older `since`."""
LOOKBACK_MS = 183 * 86_400_000
"""How far back a read since a time goes at most: Binance keeps six months of userTrades, and a
bad `since` (0) must not turn into thousands of weekly requests."""
WINDOWED = ("bybit", "binance")
START_TIME_IDS = ("bybit", "binanceusdm")
"""ccxt ids whose trade reads send their start as the venue's startTime (`trades_read`)."""

BYBIT_FORCED = ("BustTrade", "AdlTrade")
"""Bybit executions that close a position without an order of ours: a liquidation (BustTrade)
and auto-deleveraging (AdlTrade). ccxt 4.5.90's bybit.fetch_my_trades asks /v5/execution/list
for `execType=Trade` only (which keeps Funding rows out: ccxt would parse them as fills), so a
liquidated position showed no fill that closed it and reconciliation kept it open, escalating.
The endpoint takes one type per request: each is asked for on its own."""

FORCED_EVERY_S = 5.0
"""How often the REST fills poll also reads the BYBIT_FORCED executions (`OwnFills.poll`). At
every poll they would be 2 requests more a poll on /v5/execution/list: 6 a second at Bybit's
0.5 s poll, over the 5 a second its bucket allows at the default share while ccxt's cost table
(10/s) holds, i.e. until the venue's X-Bapi-Limit states the account's own limit. Every 5 s:
0.4 a second more (24 a minute, 0.3 % of the IP's 7,200), and a liquidation while the streams
are down reaches its symbol within ~5 s instead of at the 30 s reconciliation. Each read starts
at the poll's start, which trails the newest trade or the poll by 60 s (actors/market_feed.py
SINCE_LAG_MS), so nothing falls between two."""

BEHIND_WAIT_S, BEHIND_MAX_WAIT_S = 5.0, 300.0
"""The wait before a symbol whose trades could not be read is asked again, doubling up to the
maximum while it stays unreadable (`OwnFills._per_symbol`); the streams' gap fill asks anyway."""

Trade = dict[str, Any]
Page = Callable[[int | None, int | None, dict[str, Any]], list[Trade]]
"""fetch_my_trades(since, limit, params) of one symbol (or all), raw ccxt trades."""


def all_pages(fetch: Page, style: str, since: int) -> list[Trade]:
    """Every own trade since `since`: page after page while a page comes back full. Bybit
    pages by its cursor (newest first: a missed page is the oldest trades), Binance by trade
    id (`fromId`, which the venue refuses together with startTime). A page that does not move
    on (a cursor named again, a `fromId` no higher than the last) is an unreadable answer:
    followed, it cost MAX_PAGES requests a poll and listed the same trades again and again."""
    trades, ended = _pages(fetch, style, since)
    if not ended:
        logger.warning("own trades since {}: stopped after {} full pages; some trades were "
                       "not read", since, MAX_PAGES)
    return trades


def _pages(fetch: Page, style: str, since: int) -> tuple[list[Trade], bool]:
    """`all_pages`' trades, and whether they ended (False: cut at MAX_PAGES full pages)."""
    limit = PAGE_ROWS.get(style)
    page = fetch(since, limit, {})
    trades = list(page)
    asked: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES - 1):
        params = _next_page(style, page, limit)
        if params is None:
            return trades, True
        if params in asked or ("fromId" in params and asked
                               and params["fromId"] <= asked[-1]["fromId"]):
            raise ccxt.BadResponse(f"{style} own trades since {since}: the answer names page "
                                   f"{params} again (a page loop)")
        asked.append(params)
        page = fetch(None if "fromId" in params else since, limit, params)
        trades += page
    return trades, _next_page(style, page, limit) is None


def since_windows(fetch: Page, style: str, since: int, now_ms: int) -> list[Trade]:
    """Every own trade since `since` up to now: a week at a time (WEEK_MS), each week page by
    page (`all_pages`), the last week open-ended. One request since a position that opened more
    than a week ago saw only its first week: its closing fill (a liquidation, a close by hand)
    was never found and reconciliation kept the position open, asking for stops on a flat
    symbol. Other venues: `all_pages` since `since`, as before."""
    if style not in WINDOWED:
        return all_pages(fetch, style, since)
    start = max(since, now_ms - LOOKBACK_MS)
    if start > since:
        logger.warning("own trades since {}: read from {} only (at most {} days back)",
                       since, start, LOOKBACK_MS // 86_400_000)
    trades: list[Trade] = []
    while start + WEEK_MS < now_ms:
        end = start + WEEK_MS
        week = _window(fetch, style, start, end)
        trades += week
        # Binance pages on by trade id past `end` (fromId takes no time bounds): go on from
        # the last trade read; the trade at that instant comes again and is merged once
        start = max([end] + [int(t["timestamp"]) for t in week if t.get("timestamp")])
    return trades + _window(fetch, style, start, None)


def _window(fetch: Page, style: str, start: int, end: int | None) -> list[Trade]:
    """Every own trade from `start` to `end` (None: open-ended). Bybit lists newest first, so
    a window cut at MAX_PAGES pages held its newest trades and lost its oldest for good (a busy
    grid's week: over 5,000 executions of one symbol): the rest is read as a window of its own,
    ending at the oldest trade read (the trades of that millisecond come again, merged once).
    Binance lists oldest first and goes on by trade id: a cut is said (`all_pages`)."""
    trades: list[Trade] = []
    while True:
        got, ended = _pages(fetch if end is None else _until(fetch, end), style, start)
        trades += got
        times = [int(t["timestamp"]) for t in got if t.get("timestamp")]
        if ended:
            return trades
        if style != "bybit" or not times or (end is not None and min(times) >= end):
            logger.warning("own trades since {}: stopped after {} full pages; some trades "
                           "were not read", start, MAX_PAGES)
            return trades
        end = min(times)


def _until(fetch: Page, end: int) -> Page:
    """`fetch` bounded at `end` (ccxt's `until`: Bybit's and Binance's endTime); a Binance page
    by `fromId` takes no time bound."""
    return lambda since, limit, params: fetch(
        since, limit, params if "fromId" in params else {**params, "until": end})


def _next_page(style: str, page: list[Trade], limit: int | None) -> dict[str, Any] | None:
    """The params of the page after a full `page`; None after the last one."""
    if limit is None or len(page) < limit:
        return None
    if style == "bybit":  # ccxt puts the answer's nextPageCursor into one row's info
        cursors = [(t.get("info") or {}).get("nextPageCursor") for t in page]
        cursor = next((str(c) for c in cursors if c), None)
        return {"cursor": cursor} if cursor else None
    ids = [int(t["id"]) for t in page if str(t.get("id") or "").isdigit()]
    if not ids:  # ended here, the trades after this page were never read, unsaid
        raise ccxt.BadResponse(f"{style} own trades: a full page of {len(page)} names no "
                               "numeric trade id to read on from")
    return {"fromId": max(ids) + 1}


class OwnFills:
    """New own fills since a time, each trade returned once."""

    def __init__(self, active: ActiveSymbols, *, symbol_required: bool,
                 clock: Callable[[], float] | None = None) -> None:
        self.active = active
        self.symbol_required = symbol_required
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._forced_at = -float("inf")
        self._behind: dict[str, tuple[int, float, float]] = {}
        """Symbols whose trades could not be read: (where their unread fills start, when they
        are asked again, the wait before that); see `_per_symbol`."""

    def poll(self, since_ms: int, wanted: list[str] | None,
             positions: Callable[[], list[VenuePosition]],
             trades_of: Callable[[str | None, int, bool], list[VenueFill]],
             forced: bool = False) -> list[VenueFill]:
        """`forced`: also the executions no order of ours made (poll_reads); asked for anyway
        once FORCED_EVERY_S has passed since the last poll that read them. Asked for by the
        caller (the streams' gap fill), it also reads every held symbol where trades are read
        per symbol: fills that net out (a take-profit and a re-entry of one leg) leave the
        size unchanged, so ActiveSymbols alone skipped them after a disconnect."""
        gap = forced
        now = self._clock() if self._clock is not None else None
        forced = forced or (now is not None and now - self._forced_at >= FORCED_EVERY_S)
        starts: dict[str, int] = {}
        if self.symbol_required:
            symbols = self.active.to_poll(wanted or [], positions)
            if gap:
                held = self.active.held()
                symbols += [s for s in wanted or [] if s in held and s not in symbols]
            trades = self._per_symbol(symbols, wanted or [], since_ms, starts,
                                      lambda s, start: trades_of(s, start, forced), gap, now)
        else:
            trades = trades_of(None, since_ms, forced)
            if wanted:
                keep = set(wanted)
                trades = [t for t in trades if t.symbol in keep]
        if forced and now is not None:  # (only once read: a failed poll asks again)
            self._forced_at = now
        return self._fresh(trades, since_ms, starts)

    def _per_symbol(self, symbols: list[str], wanted: list[str], since_ms: int,
                    starts: dict[str, int], read: Callable[[str, int], list[VenueFill]],
                    gap: bool, now: float | None) -> list[VenueFill]:
        """`symbols`' trades, one read each, and those of the symbols left behind
        (`_behind`) whose wait is over (or any, for the gap fill), each from where its unread
        fills start (`starts`). One symbol's unreadable answer failed the whole poll on every
        attempt and every other symbol's fills stalled with it: it is said once and left
        behind; the poll fails only when every symbol asked failed."""
        with self._lock:
            behind = dict(self._behind)
        trades: list[VenueFill] = []
        failed: list[BaseException] = []
        for symbol in symbols + [s for s in behind if s in wanted and s not in symbols]:
            late = behind.get(symbol)
            if late is not None and not gap and now is not None and now < late[1]:
                continue  # still waiting before it is asked again
            start = min(since_ms, late[0]) if late is not None else since_ms
            try:
                got = read(symbol, start)
                if late is not None and now is not None:
                    got += _weeks_after(symbol, start, int(now * 1000), read)
            except ccxt.AuthenticationError:
                raise  # the account's, not the symbol's
            except (ccxt.BadResponse, ccxt.ExchangeError) as exc:
                failed.append(exc)
                self._left_behind(symbol, start, late, now, exc)
                continue
            trades += got
            starts[symbol] = start
            if late is not None:
                with self._lock:
                    self._behind.pop(symbol, None)
                logger.info("own trades of {} read again (its fills since {})", symbol, start)
        if failed and not starts:  # none read: a failed poll, as before
            raise failed[0]
        return trades

    def _left_behind(self, symbol: str, start: int, late: tuple[int, float, float] | None,
                     now: float | None, exc: BaseException) -> None:
        wait = BEHIND_WAIT_S if late is None else min(late[2] * 2, BEHIND_MAX_WAIT_S)
        with self._lock:
            self._behind[symbol] = (start, (now or 0.0) + wait, wait)
        if late is None:  # said once, not at every poll while it stays unreadable
            logger.warning("own trades of {} could not be read ({}); its fills since {} are "
                           "asked again after growing waits ({:.0f} s first), the other "
                           "symbols' go on", symbol, " ".join(str(exc).split())[:300], start,
                           wait)

    def _fresh(self, trades: list[VenueFill], since_ms: int,
               starts: dict[str, int]) -> list[VenueFill]:
        fresh = []
        with self._lock:
            for trade in sorted(trades, key=lambda t: t.timestamp or 0):
                key = (trade.symbol, trade.id)
                start = starts.get(trade.symbol, since_ms)
                if key not in self._seen and (trade.timestamp or start) >= start:
                    self._seen[key] = None
                    fresh.append(trade)
            while len(self._seen) > SEEN_TRADES:
                self._seen.popitem(last=False)
        return fresh


def _weeks_after(symbol: str, start: int, now_ms: int,
                 read: Callable[[str, int], list[VenueFill]]) -> list[VenueFill]:
    """A symbol left behind more than a week: its trades after the first week from `start`
    (a read answers one week from its start: Binance userTrades), six days on at a time."""
    got: list[VenueFill] = []
    at = start
    while at + WEEK_MS < now_ms:
        at += WEEK_MS - 86_400_000
        got += read(symbol, at)
    return got


def with_forced(style: str, symbol: str | None, params: dict[str, Any]) -> list[dict[str, Any]]:
    """The parameter sets one symbol's trade read takes: on Bybit also its liquidation and ADL
    executions (BYBIT_FORCED), unless the caller names a type or an order. An all-symbol read
    (the REST feed's poll) stays one request (`poll_reads`): a liquidation shows there as the
    position's disappearance, and the symbol's reconciliation then reads its trades through
    here."""
    if style != "bybit" or symbol is None or any(
            key in params for key in ("execType", "orderId", "orderLinkId")):
        return [params]
    return [params, *({**params, "execType": kind} for kind in BYBIT_FORCED)]


def poll_reads(style: str, forced: bool) -> list[dict[str, Any]]:
    """The parameter sets of one poll of own trades: one read, and on Bybit with `forced` (the
    streams' gap fill) also the liquidation and ADL executions (BYBIT_FORCED). A liquidation
    made while no socket was open is in no stream message, nor in the position topic; read as
    `Trade` only, the gap fill did not see it, and its symbol was told nothing until the next
    periodic reconciliation (300 s while the streams are up). Two requests more a gap; the
    REST feed's own poll asks for them every FORCED_EVERY_S (`OwnFills.poll`)."""
    if not forced or style != "bybit":
        return [{}]
    return [{}, *({"execType": kind} for kind in BYBIT_FORCED)]


def merged(reads: Iterable[list[Trade]]) -> list[Trade]:
    """Several reads' trades, each once (by id), oldest first."""
    seen: dict[Any, Trade] = {}
    for trades in reads:
        for trade in trades:
            seen.setdefault(trade.get("id"), trade)
    return sorted(seen.values(), key=lambda t: t.get("timestamp") or 0)


def trades_read(symbol: str | None, since: int | None, limit: int | None,
                params: dict[str, Any]) -> Callable[[Any], list[Trade]]:
    """One `fetch_my_trades` call, for the gateway's pool. ccxt 4.5.90 sorts the page by
    (timestamp, id) and raises TypeError there when one row has no time (Bybit `execTime`,
    Binance `time`) and the others do: the whole page was unreadable on every attempt and the
    poll's start never passed the row, so no later fill was read. Then the same answer is read
    row by row (`_apart`): the row without a time is kept, for the gateway to skip and say
    (`timed`), so the page stays full and its cursor is kept. So is a row ccxt's parser cannot
    read at all (a "NaN" price: Precise's ValueError), which failed the whole poll likewise."""
    def read(ex: Any) -> list[Trade]:
        ex.enableLastJsonResponse = True  # this thread's own instance; never an answer
        ex.last_json_response = None  # to an earlier request taken for this one's
        # Bybit, Binance USDⓈ-M: `since` sent as the venue's startTime (the same request),
        # not as ccxt's since, with which ccxt dropped a row without a time unsaid (and a full
        # page one row short read as the last one); the venue itself answers from startTime
        asked, sent = (None, {**params, "startTime": since}) if (
            ex.id in START_TIME_IDS and since is not None) else (since, params)
        try:
            return list(ex.fetch_my_trades(symbol, asked, limit, sent))
        except UNREADABLE:
            answer = ex.last_json_response
            trades = None if answer is None else _apart(ex, symbol, since, answer)
            if trades is None:  # raised before an answer came, or not for a row of it
                raise
            return trades
    return read


def _apart(ex: Any, symbol: str | None, since: int | None, answer: Any) -> list[Trade] | None:
    """`answer` (the raw page) parsed row by row as ccxt's parse_trades would, rows without a
    time kept (their timestamp None), and so are rows ccxt cannot parse (marked: see
    answer_rows.parsed_trade); None if every row has its time and was parsed (not the cause)."""
    rows = answer if isinstance(answer, list) else ex.add_pagination_cursor_to_result(answer)
    market = ex.market(symbol) if symbol is not None else None
    trades = [parsed_trade(ex, row, market) for row in rows]
    if all(t.get("timestamp") is not None and "unreadable" not in t for t in trades):
        return None
    cursor = next((r.get("nextPageCursor") for r in rows if isinstance(r, dict)
                   and r.get("nextPageCursor")), None)
    if cursor and trades:  # (ccxt put it into the first row's info, as here)
        trades[0]["info"] = {**(trades[0].get("info") or {}), "nextPageCursor": cursor}
    kept = [t for t in trades if since is None or t.get("timestamp") is None
            or t["timestamp"] >= since]
    return sorted(kept, key=lambda t: t.get("timestamp") or 0)


def timed(trade: Trade) -> Trade:
    """`trade`, if it has its time (ccxt's timestamp); else an unreadable answer naming it."""
    if "unreadable" in trade:
        raise ccxt.BadResponse(str(trade["unreadable"]))
    if not isinstance(trade.get("timestamp"), int):
        raise ccxt.BadResponse(f"trade {trade.get('id')} of {trade.get('symbol')} has no time "
                               f"({trade.get('timestamp')!r})")
    return trade


def pages(run: Callable[[Callable[[Any], list[Trade]], str], list[Trade]], symbol: str | None,
          base: dict[str, Any]) -> Page:
    """A `Page` of `symbol`'s trades (None: all) with `base` params, through the gateway's
    `run` (its pool, budget and retries)."""
    return lambda since, limit, params: run(
        trades_read(symbol, since, limit, {**base, **params}), "fetch_my_trades")
