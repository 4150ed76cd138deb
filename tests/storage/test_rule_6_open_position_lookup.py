"""Rule 6: the per-symbol lookup of a symbol's open position is an indexed O(1) query. Closed
positions are never pruned, so a search by the symbol alone reads every position the symbol
ever had: it must use the (symbol, status) index. The SQL is the repository's own (captured
from peewee's query log while the public `load` and `read` run on a real SQLite file with a
history of closed positions), explained against that file.

Found by a mutation audit: with the positions table's (symbol, status) index dropped, the
restore read every closed position of the symbol (SEARCH ... (symbol=?)) and no test failed;
tests/storage/test_rule_6_indexed_queries.py flags a symbol-wide search only on the journal
and the ledger."""

from __future__ import annotations

import logging
import re
import sqlite3

from storage import queries
from storage.repository import Repository
from tests.storage.test_rule_6_indexed_queries import TABLE, Captured

BTC = "BTC/USDT:USDT"


def test_the_open_position_of_a_symbol_is_found_by_symbol_and_status(tmp_path):
    db = tmp_path / "bot.sqlite"
    Repository(db).close()
    con = sqlite3.connect(db)
    con.executemany(  # a history: many closed positions of the symbol, one open
        "INSERT INTO positions (position_id, symbol, side, contracts, entry_price, opened_at, "
        "closed_at, status, realized_pnl, fees) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [(f"p{i}", BTC, "long", "0" if i else "1", "100", float(i), None if i == 0 else i + 0.5,
          "open" if i == 0 else "closed", "0", "0") for i in range(50)])
    con.execute("ANALYZE")
    con.commit()
    con.close()
    captured = Captured()
    peewee_log = logging.getLogger("peewee")
    old_level = peewee_log.level
    peewee_log.addHandler(captured)
    peewee_log.setLevel(logging.DEBUG)
    repo = Repository(db)
    try:
        repo.load(BTC)
        repo.read(queries.open_positions_of, [BTC])
    finally:
        repo.close()
        peewee_log.removeHandler(captured)
        peewee_log.setLevel(old_level)
    con = sqlite3.connect(db)
    plans = []
    try:
        for sql, params in captured.statements:
            if not re.match(r"\s*SELECT\b", sql, re.I) or "status" not in sql:
                continue
            tables = {}
            for name, alias in TABLE.findall(sql):
                tables[name] = tables[alias or name] = name
            for row in con.execute("EXPLAIN QUERY PLAN " + sql, params):
                line = str(row[-1])
                found = re.match(r"(SEARCH|SCAN) (\w+)", line)
                if found and tables.get(found.group(2)) == "positions":
                    plans.append((sql, line))
    finally:
        con.close()
    assert plans, "the open-position lookups were not captured"
    bad = [(sql, line) for sql, line in plans
           if not re.search(r"\(symbol=\? AND status", line)]
    assert not bad, "\n".join(f"{sql}\n    {line}" for sql, line in bad)
