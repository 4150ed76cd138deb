"""The equity curve of an account's ledger for ``GET /api/equity``, kept between requests.

``storage.reports.equity_points`` reads the whole ledger each time: on a ledger of 100,000 fills
that is ~300 ms of Python (Decimal sums, holding the GIL the actors need) per request, and each
open page asks every 5 s. Here one curve per account (and per ``points``) is shared by every
page, and a request reads only the fills added since the last one (a primary-key range). The
points are the same as ``equity_points`` gives for the same ledger: the thinning step is
ceil(rows / points), so while new rows keep the step, the points already taken stay as they
are; once the step grows (every ``points`` new rows) the curve is read again from the start.
A ledger that is not the one read before (its last row read is gone or another, e.g. the
database file was replaced) is read again from the start too, and so is one that gained a row
dated before the curve's last point: the curve runs in the order of the fills' times, and a fill
dated by the venue can be booked after later ones (a stop that filled while the bot was down).

Run ``points`` inside ``Repository.read`` (it queries through the repository's models).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from storage.models import FillRow
from storage.reports import LEDGER_PAGE, LedgerBatch, fills_after, net_rows
from trading.primitives import money_text

KEEP = 4
"""Curves kept per account (one per ``points`` asked; the page asks one)."""
KEEP_POINTS = 5000
"""A curve of more points is read whole each time, as before, and not kept (memory)."""


@dataclass(frozen=True, slots=True)
class _Curve:
    step: int
    rows: int = 0
    """Ledger rows read, readable or not (what ``equity_points`` counts to pick the step)."""
    index: int = 0
    """Readable rows read (a row that cannot be read adds nothing, as in the protections)."""
    last_id: int = 0
    last_key: Any = None
    """The client order id of the row ``last_id``: the same ledger still (see the module)."""
    equity: Decimal = Decimal(0)
    taken: tuple[dict[str, Any], ...] = ()
    last: dict[str, Any] | None = None
    last_taken: bool = False

    def points(self) -> list[dict[str, Any]]:
        if self.last is None or self.last_taken:
            return list(self.taken)
        return [*self.taken, self.last]


class EquityCurves:
    """One account's curves, shared by every page (the API's executor threads)."""

    def __init__(self, base: Decimal, page: int = LEDGER_PAGE,
                 read: Callable[[int, int], LedgerBatch] = fills_after) -> None:
        """``read``: the ledger rows after an id (``storage.reports.fills_after``)."""
        self.base, self.page, self.read = base, page, read
        self._curves: dict[int, _Curve] = {}
        self._lock = threading.Lock()

    def points(self, max_points: int = 500) -> list[dict[str, Any]]:
        """``equity_points(base, max_points)``, reading only what is new since the last call."""
        wanted = max(max_points, 1)
        with self._lock:  # a second page waits for the first one's read, and reuses it
            curve = self._update(self._curves.get(wanted), wanted)  # may raise: kept as was
            self._curves.pop(wanted, None)
            if wanted <= KEEP_POINTS:
                self._curves[wanted] = curve  # the most recently asked last
            while len(self._curves) > KEEP:
                del self._curves[next(iter(self._curves))]
            return curve.points()

    def _update(self, curve: _Curve | None, wanted: int) -> _Curve:
        if curve is not None and curve.last_id and _key(curve.last_id) != curve.last_key:
            curve = None  # not the ledger read before
        if curve is not None:
            batches = self._batches(curve.last_id)
            rows = curve.rows + sum(b.size for b in batches)
            new = sorted(r for b in batches for r in net_rows(b.fills))
            later = curve.last is None or not new or new[0][0] >= curve.last["time"]
            if -(-rows // wanted) == curve.step and later:  # else: a row dated before the
                return self._extend(curve, batches, new)  # curve's end takes its place in it
        total = FillRow.select().count()
        batches = self._batches(0)
        return self._extend(_Curve(step=max(1, -(-total // wanted)), equity=self.base), batches,
                            sorted(r for b in batches for r in net_rows(b.fills)))

    def _batches(self, last_id: int) -> list[LedgerBatch]:
        batches = []
        while True:
            batch = self.read(last_id, self.page)
            batches.append(batch)
            last_id = batch.last_id
            if batch.size < self.page:
                return batches

    def _extend(self, curve: _Curve, batches: list[LedgerBatch],
                new: list[tuple[float, int, Decimal]]) -> _Curve:
        """The curve with these rows added (a new curve: a read that fails changes nothing).
        ``new``: the batches' readable rows in time order, none dated before the curve's end."""
        step, taken, equity, i = curve.step, list(curve.taken), curve.equity, curve.index
        last, last_taken = curve.last, curve.last_taken
        for at, _, net in new:
            equity += net
            last = {"time": at, "equity": money_text(equity)}
            last_taken = i % step == step - 1
            if last_taken:
                taken.append(last)
            i += 1
        last_id = batches[-1].last_id if batches else curve.last_id
        return replace(curve, rows=curve.rows + sum(b.size for b in batches), index=i,
                       last_id=last_id, last_key=_key(last_id) if last_id else None,
                       equity=equity, taken=tuple(taken), last=last, last_taken=last_taken)


def _key(fill_id: int) -> Any:
    db = FillRow._meta.database
    row = db.execute_sql(f"SELECT client_order_id FROM fills WHERE id = {db.param}",
                         (fill_id,)).fetchone()
    return None if row is None else row[0]
