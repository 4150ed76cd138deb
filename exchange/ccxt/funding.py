"""Funding payments through ccxt's `fetch_funding_history`, as the port's `VenueFunding`.

One read covers every symbol of the account (no symbol given):
  Bybit v5: GET /v5/execution/list with execType=Funding (ccxt 4.5.90 `parse_income` keeps the
    raw row in `info`; its `amount` is `execFee`, positive when PAID). Newest first, 100 rows a
    page (`limit`: ccxt sends `size`, which the venue does not read, so its default would be
    50), the next page by `cursor` (ccxt copies `nextPageCursor` into the first row's info).
    Newest first: a read cut by a page limit holds the newest payments and the feed's next
    read starts after them, so the older ones would never be read. A read follows every page
    up to BYBIT_MAX_PAGES (as many payments as Binance's MAX_PAGES), then the rest of its
    window as a window of its own, ending at the oldest payment read; a cursor named again
    is an unreadable answer (ccxt.BadResponse), never followed. The venue answers at most 7
    days from startTime: a read since longer ago walks it week by week.
  Binance USDⓈ-M: GET /fapi/v1/income with incomeType=FUNDING_FEE (ccxt's `amount` is
    `income`, NEGATIVE when paid). Oldest first, up to 1000 rows; a full page is read on from
    its last time (rows of that millisecond come twice and are kept once); a full page with no
    later time than its start is an unreadable answer (ccxt.BadResponse), never the end.
The two venues' `amount` have opposite signs, so ccxt's float is never used: the fee is read
from the raw row as a Decimal (Bybit execFee as is, Binance -income). A row that cannot be read
(no id, no time, an amount or rate that is no finite number, "NaN" among them) is skipped with
one warning naming it; the others are returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import ccxt

from exchange.ccxt.bybit_pages import bybit_pages
from exchange.ccxt.errors import UNREADABLE
from exchange.decimals import to_decimal
from exchange.records import PositionSide, VenueFunding

Run = Callable[[Callable[[Any], Any], str], Any]
BYBIT_PAGE = 100
BINANCE_PAGE = 1000
MAX_PAGES = 20
"""Binance pages one read follows at most (20,000 payments): Binance lists oldest first, and
the next read starts where this one's newest payment is, so a longer list is read over several
reads; a read cut here says so, naming where the payments it left start."""
BYBIT_MAX_PAGES = 200
"""Bybit pages one window follows at most (20,000 payments). Bybit lists newest first, so a
read cut here lost its oldest payments for good (the next read starts at its newest): at 20
pages, a restart after a few days down with a few dozen positions on 1 h or 4 h funding read
only the last 2,000 and skipped the rest. A cut window's rest is read as a window of its own
(`_bybit_rows`)."""


WEEK_MS = 7 * 86_400_000
"""Bybit /v5/execution/list answers startTime..startTime + 7 days when only startTime is sent
(endTime - startTime <= 7 days when both are)."""
LOOKBACK_MS = 183 * 86_400_000
"""How far back a Bybit read goes at most (a bad `since` must not be thousands of weeks)."""


def read(run: Run, style: str, since: int, warn: Callable[[str], None],
         now_ms: int | None = None) -> list[VenueFunding]:
    """Every funding payment of the account since `since` (ms), oldest first, each once."""
    rows = _bybit_weeks(run, since, warn, now_ms) if style == "bybit" else \
        _binance_rows(run, since, warn)
    found: dict[str, VenueFunding] = {}
    for row in rows:
        try:
            record = parse(style, row)
        except UNREADABLE as exc:  # (ArithmeticError among them: no decimal error gets out)
            warn(f"funding row skipped ({exc}): {_named(row)}")
            continue
        found.setdefault(record.id, record)
    return sorted(found.values(), key=lambda f: (f.timestamp, f.id))


def _bybit_weeks(run: Run, since: int, warn: Callable[[str], None], now_ms: int | None
                 ) -> Iterable[dict[str, Any]]:
    """Bybit's payments since `since` up to `now_ms`: a week at a time (WEEK_MS), the last week
    open-ended. One read from a start more than a week back saw only its first week: after a
    long downtime the feed found nothing there, moved its start to now and the payments in
    between were never booked. At most LOOKBACK_MS back, said."""
    start = since
    if now_ms is not None:
        start = max(since, now_ms - LOOKBACK_MS)
        if start > since:
            warn(f"funding since {since}: read from {start} only (at most "
                 f"{LOOKBACK_MS // 86_400_000} days back)")
        while start + WEEK_MS < now_ms:
            yield from _bybit_rows(run, start, warn, until=start + WEEK_MS)
            start += WEEK_MS  # (a payment at the bound comes twice: kept once by id)
    yield from _bybit_rows(run, start, warn)


def _call(run: Run, since: int, params: dict[str, Any]) -> list[dict[str, Any]]:
    """One page from `since`, sent as the venue's startTime, not as ccxt's `since`: given a
    since, ccxt 4.5.90 drops every row without a time from its answer unsaid, so the row was
    never warned about, and a full Bybit page one row short read as the last one (the older
    payments of that read were lost for good)."""
    asked = {**params, "startTime": since}
    return list(run(lambda ex: ex.fetch_funding_history(None, None, None, dict(asked)),
                    "fetch_funding_history") or [])


def _bybit_rows(run: Run, since: int, warn: Callable[[str], None], until: int | None = None
                ) -> Iterable[dict[str, Any]]:
    """`since`..`until` page by page. Newest first: a window cut at BYBIT_MAX_PAGES held its
    newest payments and its oldest were lost for good; the rest is read as a window of its
    own, ending at the oldest payment read (that millisecond's come twice: kept once by id)."""
    while True:
        rows, ended = bybit_pages(_bybit_page(run, since, until), BYBIT_PAGE, BYBIT_MAX_PAGES,
                                  f"bybit funding since {since}")
        yield from rows
        if ended:
            return
        times = [r["timestamp"] for r in rows if isinstance(r.get("timestamp"), int)]
        if not times or (until is not None and min(times) >= until):
            warn(f"funding since {since}: more than {BYBIT_MAX_PAGES * BYBIT_PAGE} payments "
                 f"up to {until}; the oldest of them were not read")
            return
        until = min(times)


def _bybit_page(run: Run, since: int, until: int | None
                ) -> Callable[[str | None], list[dict[str, Any]]]:
    bound = {} if until is None else {"endTime": until}
    return lambda cursor: _call(run, since, {"limit": BYBIT_PAGE,
                                             **({"cursor": cursor} if cursor else {}), **bound})


def _binance_rows(run: Run, since: int, warn: Callable[[str], None]
                  ) -> Iterable[dict[str, Any]]:
    """Up to MAX_PAGES pages from `since`; a read cut there is said with the range it left
    (the feed's next read starts at the newest payment handed over: the rest is read then)."""
    start = since
    for _ in range(MAX_PAGES):
        page = _call(run, start, {"incomeType": "FUNDING_FEE", "limit": BINANCE_PAGE})
        yield from page
        times = [r["timestamp"] for r in page if isinstance(r.get("timestamp"), int)]
        if len(page) < BINANCE_PAGE:
            return
        if not times or max(times) <= start:  # ended here, the later payments were never read
            raise ccxt.BadResponse(f"binance funding since {since}: a full page from {start} "
                                   "does not move on (no later time in it)")
        start = max(times)
    warn(f"binance funding since {since}: stopped after {MAX_PAGES} full pages; the payments "
         f"from {start} on were not read by this read (the next read goes on from there)")


def parse(style: str, row: dict[str, Any]) -> VenueFunding:
    """One ccxt funding-history entry as the port's record (KeyError/ValueError: unreadable)."""
    info = row["info"]
    symbol = row.get("symbol")
    if not isinstance(symbol, str) or not symbol or symbol == "-":
        raise ValueError(f"no symbol: {symbol!r}")
    if style == "bybit":
        if info.get("execType", "Funding") != "Funding":
            raise ValueError(f"not a funding execution: {info.get('execType')!r}")
        fee, rate = _finite(info["execFee"]), _finite(info.get("feeRate") or 0)
        record_id, at = str(info["execId"]), int(info["execTime"])
        side = None if not fee or not rate else (
            PositionSide.LONG if (fee > 0) == (rate > 0) else PositionSide.SHORT)
    else:
        if info.get("incomeType", "FUNDING_FEE") != "FUNDING_FEE":
            raise ValueError(f"not a funding fee: {info.get('incomeType')!r}")
        fee, record_id, at, side = -_finite(info["income"]), str(info["tranId"]), \
            int(info["time"]), None
    if not record_id or at <= 0:
        raise ValueError("no id or no time")
    return VenueFunding(id=record_id, symbol=symbol, fee=fee + Decimal(0), timestamp=at,
                        position_side=side)


def _finite(value: Any) -> Decimal:
    """`value` as a finite Decimal, else ValueError naming it: a "NaN" fee or rate compared
    (which leg paid) raised decimal.InvalidOperation, which failed the whole read."""
    number = to_decimal(value)
    if not number.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return number


NAMING = ("symbol", "execId", "tranId", "execTime", "time", "execFee", "income", "feeRate")
"""The fields that name a payment, first in its warning: Bybit's row runs to 700 characters,
its execId and execFee past the 300 the line keeps, so a skipped payment was not named."""


def _named(row: Any) -> str:
    """The row in one short line (its raw fields, those naming the payment first; nothing
    secret is in a funding row)."""
    info = row.get("info") if isinstance(row, dict) else row
    if isinstance(info, dict):
        info = {**{key: info[key] for key in NAMING if key in info}, **info}
    return str(info)[:300]
