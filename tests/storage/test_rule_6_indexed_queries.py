"""Rule 6: every per-symbol read and write is an indexed O(1) query; no code path scans a
growing table (the journal, the ledger, orders, positions) to act on one symbol.

The SQL the repository really runs is captured while a real bot trades (supervisor, actors,
paper exchange): the writer's statements through sqlite3's trace callback on the writer's own
connection (set by a unit of work handed to the repository's public writer), every read through
peewee's query log. Each captured SELECT, UPDATE and DELETE is then explained against the same
file (EXPLAIN QUERY PLAN). A plan fails the rule when it SCANs a growing table, or when it finds
journal or ledger rows by the symbol alone: those are the symbol's whole history, which is
never pruned."""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
from pathlib import Path

from actors.messages import Reconcile
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
GROWING = ("events", "fills", "orders", "positions")
HISTORY = ("events", "fills")
"""Never pruned: a search on the symbol alone reads every row the symbol ever had."""


class Captured(logging.Handler):
    """peewee logs each query it runs as (sql, params) at DEBUG on the 'peewee' logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[tuple[str, tuple]] = []
        self.mutex = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.msg
        if isinstance(msg, tuple) and len(msg) == 2 and isinstance(msg[0], str):
            with self.mutex:
                self.statements.append((msg[0], tuple(msg[1] or ())))

    def traced(self, sql: str) -> None:  # sqlite3 trace callback: values already bound
        with self.mutex:
            self.statements.append((sql, ()))


TABLE = re.compile(r'\b(?:FROM|JOIN|UPDATE|INTO)\s+"?(\w+)"?(?:\s+AS\s+"?(\w+)"?)?', re.I)


def violations(db: Path, statements: list[tuple[str, tuple]]) -> dict[str, list[str]]:
    """The statements whose plan breaks the rule, with the offending plan lines."""
    bad: dict[str, list[str]] = {}
    con = sqlite3.connect(db)
    try:
        for sql, params in statements:
            if not re.match(r"\s*(SELECT|UPDATE|DELETE)\b", sql, re.I):
                continue
            tables = {}  # the plan names a table by its alias (peewee writes "t1")
            for name, alias in TABLE.findall(sql):
                tables[name] = tables[alias or name] = name
            plan = [str(r[-1]) for r in con.execute("EXPLAIN QUERY PLAN " + sql, params)]
            for line in plan:
                scan = re.match(r"SCAN (\w+)", line)
                search = re.match(r"SEARCH (\w+) USING .*\((.*)\)", line)
                if scan and tables.get(scan.group(1)) in GROWING:
                    bad.setdefault(sql, []).append(line)
                elif (search and tables.get(search.group(1)) in HISTORY
                      and search.group(2) == "symbol=?"):
                    bad.setdefault(sql, []).append(line)
    finally:
        con.close()
    return bad


def test_the_repository_never_scans_a_growing_table_for_one_symbol(tmp_path):
    captured = Captured()
    peewee_log = logging.getLogger("peewee")
    old_level = peewee_log.level
    peewee_log.addHandler(captured)
    peewee_log.setLevel(logging.DEBUG)
    h = Harness(tmp_path, [BTC, ETH], risk={"cooldown_after_loss_s": 0})
    h.repo.writer.submit(lambda: h.repo.db.connection().set_trace_callback(captured.traced))
    try:
        # a history first, so restarts and reads meet rows: a few round trips per symbol
        h.start()
        h.poll()
        for _ in range(2):
            for sym in (BTC, ETH):
                assert h.signal(sym, Side.LONG)
                h.idle(sym)
                assert h.signal(sym, None)
                h.idle(sym)
        assert h.signal(BTC, Side.SHORT)  # one left open: restore and reconcile read it
        h.idle(BTC)
        for sym in (BTC, ETH):
            h.sup.tell(sym, Reconcile(reason="periodic"))
            h.idle(sym)
        h.repo.claim(BTC)  # a new incarnation: the running one is fenced off ...
        # ... its next commit raises, it restarts: restore, lost signals (an entry: skipped;
        # a lost exit would be carried out and close the position read below)
        h.signal(BTC, Side.LONG)
        wait_until(lambda: h.child(BTC).restarts >= 1 and h.child(BTC).state.value == "running",
                   message="BTC restarted (restore, lost signals, reconcile)")
        h.idle(BTC)
        cids = {s["clientOrderId"] for s in h.paper.submissions() if s["symbol"] == BTC}
        assert h.repo.booked_among(cids)
        pos = h.views[BTC].state.position
        assert pos is not None and h.repo.booked_orders(pos.position_id)
        assert h.repo.unhandled_signals(ETH) == []
    finally:
        h.stop()
        peewee_log.removeHandler(captured)
        peewee_log.setLevel(old_level)
    statements = list(captured.statements)
    assert len(statements) > 100
    texts = " ".join(sql for sql, _ in statements)
    for table in GROWING:  # the capture saw the repository work on every growing table
        assert re.search(rf'\b(FROM|INTO|UPDATE) "?{table}"?', texts), table
    bad = violations(tmp_path / "bot.sqlite", statements)
    assert not bad, "\n".join(f"{sql}\n    {plan}" for sql, plan in bad.items())


def test_the_plan_check_itself_flags_scans_and_symbol_wide_history_reads(tmp_path):
    """The check above can fail: a scan of the ledger and a read of a symbol's whole journal."""
    from storage.repository import Repository

    Repository(tmp_path / "bot.sqlite").close()
    bad = violations(tmp_path / "bot.sqlite", [
        ('SELECT "t1"."id" FROM "fills" AS "t1" WHERE ("t1"."side" = ?)', ("buy",)),
        ('SELECT "t1"."id" FROM "events" AS "t1" WHERE ("t1"."symbol" = ?)', (BTC,)),
        ("SELECT id FROM events WHERE symbol = 'x' AND type = 'SignalReceived'", ()),
        ("UPDATE positions SET status='closed' WHERE position_id='p'", ()),
    ])
    assert len(bad) == 2 and all("events" in s or "fills" in s for s in bad), bad


def test_which_ids_a_symbol_has_booked_is_found_by_the_ids_not_the_symbols_ledger(tmp_path):
    """Found by review: `booked_among(ids, symbol)` (a reconciliation asking which of a gone
    leg's trades, or of a position's unexplained fills, are booked) let SQLite pick the symbol
    index for two ids or more, reading every fill the symbol ever had (the ledger is never
    pruned), and the trade's symbol decides nothing the ids do not."""
    from storage.repository import Repository

    repo = Repository(tmp_path / "bot.sqlite")
    captured = Captured()
    peewee_log = logging.getLogger("peewee")
    old_level = peewee_log.level
    peewee_log.addHandler(captured)
    peewee_log.setLevel(logging.DEBUG)
    try:
        repo.booked_among({"trade-1", "trade-2", "main-ab12-BTC-7e"}, BTC)
    finally:
        peewee_log.removeHandler(captured)
        peewee_log.setLevel(old_level)
        repo.close()
    fills = [s for s in captured.statements if '"fills"' in s[0]]
    assert fills
    bad = violations(tmp_path / "bot.sqlite", fills)
    assert not bad, "\n".join(f"{sql}\n    {plan}" for sql, plan in bad.items())


def test_booked_ids_are_told_per_symbol(tmp_path):
    """Binance numbers trades per symbol: ETH's booked trade 1001 is not BTC's trade 1001."""
    from storage.models import FillRow
    from storage.repository import Repository

    def fill(symbol: str, cid: str) -> None:
        FillRow.insert(symbol=symbol, client_order_id=cid, position_id="p", side="buy",
                       amount="1", price="100", fee="0", realized_pnl="0", created_at=1).execute()

    repo = Repository(tmp_path / "bot.sqlite")
    try:
        repo.writer.submit(lambda: fill(ETH, "trade-1001"))
        repo.writer.submit(lambda: fill(BTC, "trade-7"))
        assert repo.booked_among({"trade-1001", "trade-7", "trade-8"}, BTC) == {"trade-7"}
        assert repo.booked_among({"trade-1001", "trade-7"}, ETH) == {"trade-1001"}
        assert repo.booked_among({"trade-1001", "trade-7"}) == {"trade-1001", "trade-7"}
    finally:
        repo.close()
