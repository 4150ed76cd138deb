"""Bybit's cursor paging, once for every paged read (open orders, positions, funding).

Bybit answers one page of up to `size` rows and names the next page in `nextPageCursor`;
ccxt 4.5.90 puts that into the rows' `info` and reads one page. A page shorter than `size`,
or one naming no cursor, is the last; a page read row by row (answer_rows.Page) says how many
rows the venue listed on it, skipped ones too, and which cursor it named. A cursor named
twice is an unreadable answer (ccxt.BadResponse, a temporary error): followed, it cost up to
`pages` requests and listed the same rows again and again."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ccxt

from exchange.ccxt.answer_rows import Page


def next_cursor(page: list[Any]) -> str | None:
    """The next page's cursor named by a page's rows (in their `info`), None on the last."""
    for row in page:
        info = row.get("info") if isinstance(row, dict) else None
        if isinstance(info, dict) and info.get("nextPageCursor"):
            return str(info["nextPageCursor"])
    return None


def bybit_pages(fetch: Callable[[str | None], list[Any]], size: int, pages: int,
                what: str) -> tuple[list[Any], bool]:
    """Every row of up to `pages` pages, `fetch(cursor)` reading one (None: the first), and
    whether the read ended on its last page (False: `pages` full pages and more named)."""
    rows: list[Any] = []
    seen: set[str] = set()
    cursor: str | None = None
    for _ in range(pages):
        page = fetch(cursor)
        rows += page
        listed, cursor = (page.listed, page.cursor) if isinstance(page, Page) else (
            len(page), next_cursor(page))
        if listed < size or cursor is None:
            return rows, True
        if cursor in seen:
            raise ccxt.BadResponse(f"{what}: the answer names page {cursor!r} again "
                                   "(a cursor loop)")
        seen.add(cursor)
    return rows, False
