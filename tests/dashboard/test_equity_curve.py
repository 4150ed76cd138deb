"""The page's equity curve (`GET /api/equity`) is kept between requests, one per account shared
by every page: a request reads only the ledger rows added since the last one, and answers the
same points as a read of the whole ledger (`storage.reports.equity_points`).

Found by review: every request read the whole ledger (100,000 fills: ~300 ms of Decimal sums on
the bot's interpreter), and each open page asks every 5 s. Real SQLite ledgers (the protections'
rig writes rows as the commit path does), a real aiohttp server on 127.0.0.1, real threads."""

from __future__ import annotations

import json
import sqlite3
import threading

from loguru import logger

from dashboard.auth import Auth
from dashboard.equity import EquityCurves
from dashboard.server import DashboardServer
from dashboard.source import AccountHandle, DashboardSource
from storage import reports
from supervision.status import write_status
from tests.dashboard.test_server import STATUS, TOKEN, call
from tests.protections.ledger_rig import BASE, BTC, ETH, T0, Ledger


def add(ledger: Ledger, start: int, n: int, tag: str = "p") -> None:
    ledger.fills([(f"{tag}{i}", BTC if i % 2 else ETH, T0 + i, "0.8" if i % 3 else "-1.25",
                   "0.05") for i in range(start, start + n)])


def whole(ledger: Ledger, points: int) -> list[dict]:
    """What a read of the whole ledger gives (the view before the curve was kept)."""
    return json.loads(json.dumps(ledger.repo.read(reports.equity_points, BASE, points)))


def serve(tmp_path, ledger: Ledger) -> DashboardServer:
    write_status(tmp_path, json.loads(json.dumps(STATUS)))
    source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=(BTC, ETH), repo=ledger.repo, capital=BASE,
        log_path=lambda s: tmp_path / "x.log")])
    server = DashboardServer(source=source, auth=Auth(token=TOKEN, host="127.0.0.1"),
                             logger=logger)
    server.start()
    return server


def curve(server: DashboardServer, points: int) -> list[dict]:
    code, body = call(f"{server.url}/api/equity?points={points}")
    assert code == 200, body
    return json.loads(body)["points"]


def test_the_curve_has_the_whole_ledgers_points_and_each_new_row(tmp_path):
    ledger = Ledger(tmp_path)
    server = serve(tmp_path, ledger)
    try:
        assert curve(server, 7) == [] == whole(ledger, 7)
        start = 0
        # rows in chunks that keep the thinning step and chunks that change it, one damaged row
        for n in (1, 1, 5, 6, 13, 2, 40, 1, 90):
            add(ledger, start, n)
            start += n
            if start == 8:
                ledger.fills([("bad", BTC, T0 + 7.5, "garbage", "0.05")])
            for points in (7, 500, 1, 6000):  # 6000: more than a curve kept
                got = curve(server, points)
                assert got == whole(ledger, points), (start, points)
                assert got[-1]["time"] == T0 + start - 1  # the newest row is in
    finally:
        server.stop()
        ledger.close()


def test_a_replaced_ledger_is_read_again_from_its_start(tmp_path):
    ledger = Ledger(tmp_path)
    server = serve(tmp_path, ledger)
    try:
        add(ledger, 0, 30)
        assert curve(server, 500) == whole(ledger, 500)
        for kept in (10, 45):  # the database file replaced: fewer rows, then more than before
            with sqlite3.connect(ledger.path) as con:
                con.execute("DELETE FROM fills")
            add(ledger, 100, kept, tag=f"other{kept}-")
            assert curve(server, 500) == whole(ledger, 500), kept
    finally:
        server.stop()
        ledger.close()


def test_a_request_reads_only_new_rows_and_pages_share_one_read(tmp_path):
    ledger = Ledger(tmp_path)
    add(ledger, 0, 1001)  # 100 points: a step of 11 rows, for 1001..1100 rows
    read_rows: list[int] = []

    def counted(last_id: int, limit: int) -> reports.LedgerBatch:
        batch = reports.fills_after(last_id, limit)
        read_rows.append(batch.size)
        return batch

    curves = EquityCurves(BASE, page=64, read=counted)
    try:
        answers: list[list[dict]] = []
        pages = threading.Barrier(3)

        def page() -> None:
            pages.wait()
            answers.append(ledger.repo.read(curves.points, 100))

        threads = [threading.Thread(target=page) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(answers) == 3 and all(a == whole(ledger, 100) for a in answers)
        assert sum(read_rows) == 1001  # three pages at once: the ledger read once
        read_rows.clear()
        assert ledger.repo.read(curves.points, 100) == whole(ledger, 100)
        assert sum(read_rows) == 0  # nothing new: nothing read
        add(ledger, 1001, 9)
        assert ledger.repo.read(curves.points, 100) == whole(ledger, 100)
        assert sum(read_rows) == 9  # only the new rows
    finally:
        ledger.close()
