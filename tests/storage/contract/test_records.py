"""Storage contract, records: ledger fills, journal, escalations, control rows, meta and the
operator's reports read back the same on SQLite and on PostgreSQL."""

from __future__ import annotations

from decimal import Decimal as D

from storage import control, queries, reports
from tests.storage.contract.backends import Backend
from tests.storage.contract.test_state import SYM, opened, play
from trading.commands import Escalate, JournalEntry
from trading.decision import Decision
from trading.events import OrderFilled
from trading.model import SymbolState


def test_fills_journal_and_reports(backend: Backend):
    repo = backend.open()
    _, sc = opened(repo)
    pid = sc.state.position.position_id
    fills = repo.read(queries.fills, SYM)
    assert [(f.position_id, D(f.amount)) for f in fills] == [
        (e.position_id, e.amount) for e in sc.ledger()]
    assert repo.booked_orders(pid) == {f.client_order_id for f in fills}
    assert repo.booked_among({fills[0].client_order_id, "nobody"}) == {fills[0].client_order_id}
    assert repo.booked_among({fills[0].client_order_id}, SYM) == {fills[0].client_order_id}
    assert repo.booked_among({fills[0].client_order_id}, "ETH/USDT:USDT") == set()
    assert repo.read(queries.ledger_net_pnl, SYM) == sum(
        (e.realized_pnl - e.fee for e in sc.ledger()), D(0))
    after = repo.read(reports.fills_after, 0)
    assert [r["id"] for r in after.fills] == [f.id for f in fills] and after.skipped == []
    assert after.fills[0]["fee"] == D(fills[0].fee) and after.last_id == fills[-1].id
    end = repo.read(reports.fills_after, fills[-1].id)
    assert (end.fills, end.size, end.last_id) == ([], 0, fills[-1].id)
    (row,) = repo.read(reports.positions_by_id, [pid, "missing"])
    assert row["position_id"] == pid and row["status"] == "open"
    types = [e["type"] for e in repo.read(queries.events, SYM)]
    assert types == sc.journal_types()
    page = repo.read(reports.journal, SYM, None, 2)
    assert [e["type"] for e in page] == types[::-1][:2]
    assert repo.read(reports.equity_points, D(1000))[-1]["equity"] == str(
        D(1000) + repo.read(queries.ledger_net_pnl, None))


def test_signals_journal_and_escalations(backend: Backend):
    repo = backend.open()
    repo.record(SYM, "SignalReceived", {"signal_id": "s1", "side": "long"}, correlation_id="s1")
    repo.record(SYM, "SignalReceived", {"signal_id": "s2", "side": "short"}, correlation_id="s2")
    repo.record(SYM, "SignalHandled", {"signal_id": "s1"}, correlation_id="s1")
    assert [s["signal_id"] for s in repo.unhandled_signals(SYM)] == ["s2"]
    assert repo.read(queries.signal_received, "s2") and not repo.read(queries.signal_received, "s9")
    assert repo.read(queries.signal_received, "s1")
    inc = repo.claim(SYM)
    esc = Escalate(reason="stop rejected", attempts=3, last_error="boom")
    repo.commit(SYM, inc, SymbolState(symbol=SYM),
                Decision(state=SymbolState(symbol=SYM), commands=(esc,)),
                correlation_id="e", created_at=1.5)
    repo.add_escalation("ETH/USDT:USDT", "close failed", 2, None)
    open_ = repo.read(queries.open_escalations)
    assert [(e["symbol"], e["reason"], e["attempts"]) for e in open_] == [
        (SYM, "stop rejected", 3), ("ETH/USDT:USDT", "close failed", 2)]
    repo.resolve_escalations(SYM)
    assert [e["symbol"] for e in repo.read(queries.open_escalations)] == ["ETH/USDT:USDT"]
    # an alert-only escalation (close=False) counts toward the kill switch, but is not open
    alert = Escalate(reason="close unconfirmed", attempts=3, last_error=None, close=False)
    repo.commit(SYM, inc, SymbolState(symbol=SYM),
                Decision(state=SymbolState(symbol=SYM), commands=(alert,)),
                correlation_id="a", created_at=2.5)
    assert [e["symbol"] for e in repo.read(queries.open_escalations)] == ["ETH/USDT:USDT"]
    assert "close unconfirmed" in [e["reason"] for e in repo.read(queries.escalations_since, 0)]


def test_control_rows(backend: Backend):
    repo = backend.open()
    first = control.request(repo, "signal", SYM, side="long", size_usdt="200")
    backend.sql("INSERT INTO control (command, symbol, args, created_at) VALUES (?, ?, ?, ?)",
                ("signal", "ETH/USDT:USDT", "{not json", 2.0))
    last = control.request(repo, "resume", SYM)
    assert last > first
    readable, problems = control.take_readable(repo)
    # a signal row without expires_at (an older CLI's) lives SIGNAL_TTL_S from its created_at
    [(queued,)] = backend.sql("SELECT created_at FROM control WHERE id = ?", (first,))
    assert [(r[0], r[1], r[3]) for r in readable] == [
        (first, "signal", {"side": "long", "size_usdt": "200",
                           "expires_at": queued + control.SIGNAL_TTL_S}), (last, "resume", {})]
    assert len(problems) == 1 and "unreadable args" in problems[0]
    control.mark_done(repo, first, "delivered")
    assert [r[0] for r in control.take_pending(repo)] == [last]
    done = backend.sql("SELECT result FROM control WHERE id = ?", (first,))
    assert done == [("delivered",)]


def test_meta_overwrites(backend: Backend):
    repo = backend.open()
    assert repo.get_meta("kill_switch") is None
    repo.set_meta("kill_switch", "1")
    repo.set_meta("kill_switch", "0")
    assert repo.get_meta("kill_switch") == "0"
    assert len(repo.id_tag) == 4


def closed_trade(repo) -> str:  # noqa: ANN001
    """One position opened and closed by its stop, every decision committed; its id."""
    inc, sc = opened(repo)
    pid = sc.state.position.position_id
    stop = sc.state.active_stop()
    play(repo, inc, sc, OrderFilled(client_order_id=stop.client_order_id, exchange_id="x",
                                    filled=stop.amount, average=stop.stop_price, fee=D("0.02")))
    assert sc.state.position is None
    return pid


def test_a_damaged_ledger_row_leaves_the_equity_and_trades_pages_readable(backend: Backend):
    """Found by review: one ledger row whose fee is not a number (a hand edit, an older bot)
    raised InvalidOperation out of `equity_points` and `trades`, so the dashboard's equity and
    trades pages answered 500 for good, while the protections (fills_after) skip that row and
    name it. Both pages now skip the same row; a NaN no longer turns the curve into NaN."""
    repo = backend.open()
    pid = closed_trade(repo)
    fills = repo.read(queries.fills, SYM)
    bad, good = fills[0], fills[1:]
    readable = sum((D(f.realized_pnl) - D(f.fee) for f in good), D(0))
    for value in ("garbage", "NaN"):
        backend.sql("UPDATE fills SET fee = ? WHERE id = ?", (value, bad.id))
        points = repo.read(reports.equity_points, D(1000))
        assert points[-1]["equity"] == str(D(1000) + readable)
        (trade,) = repo.read(reports.trades, 50, 0, None)
        assert trade["position_id"] == pid
        mine = [f for f in good if f.position_id == pid]
        assert trade["fees"] == sum((D(f.fee) for f in mine), D(0))
    backend.sql("UPDATE positions SET realized_pnl = 'garbage' WHERE position_id = ?", (pid,))
    backend.sql("DELETE FROM fills")
    (trade,) = repo.read(reports.trades, 50, 0, None)
    assert trade["position_id"] == pid and trade["realized_pnl"] is None
    assert trade["net_pnl"] is None


def test_trades_closed_at_the_same_moment_page_in_one_fixed_order(backend: Backend):
    # a hedge grid's two legs closed in one decision share closed_at: paging by offset must
    # show each exactly once (a sort on closed_at alone leaves their order to the engine)
    repo = backend.open()
    closed_trade(repo)
    cols = ("symbol, side, contracts, entry_price, opened_at, closed_at, status, realized_pnl, "
            "fees, close_reason")
    for i in range(5):  # five more closed positions, copies of the first under other ids
        backend.sql(f"INSERT INTO positions (position_id, {cols}) SELECT ?, {cols} FROM "
                    "positions WHERE position_id = ?", (f"leg-{i}", "main-ab12-BTC-1e"))
    backend.sql("UPDATE positions SET closed_at = 1700000000.0")
    whole = [t["position_id"] for t in repo.read(reports.trades, 50, 0, None)]
    paged = [t["position_id"] for offset in range(6)
             for t in repo.read(reports.trades, 1, offset, None)]
    assert len(set(whole)) == 6 and paged == whole
    assert whole == sorted(whole, reverse=True)


def test_a_decision_with_more_rows_than_one_statement_takes_commits_them_all(backend: Backend):
    """PostgreSQL takes at most 65,535 parameters a statement: the hot path's multi-row INSERT
    (storage/sql_conn.py `PgConn.executemany`) is cut into chunks. 12,000 journal lines of 6
    values each (72,000) is past one statement (a restart booking a long downtime's fills
    writes that many rows in one decision); every line is committed, once, in order."""
    repo = backend.open()
    inc = repo.claim(SYM)
    count = 12_000
    lines = tuple(JournalEntry(type="Note", data={"seq": i}) for i in range(count))
    repo.commit(SYM, inc, SymbolState(symbol=SYM),
                Decision(state=SymbolState(symbol=SYM), journal=lines),
                correlation_id="many", created_at=1.0)
    assert [e["data"]["seq"] for e in repo.read(queries.events, SYM, "Note")] == list(range(count))


def test_a_status_read_that_failed_then_answers_says_the_database_is_back(backend: Backend):
    """`Repository.read_bounded` (storage/bounded_reads.py; its own thread per read on
    PostgreSQL): while the read fails, the last answer and why; once it answers again, the
    answer and no `unreachable`, or the status kept saying the database was away after it
    came back. Each read is waited for long enough for a loaded machine (the wait's
    bound itself is tests/storage/test_status_read_late_answer.py's)."""
    wait = {"wait_s": 30.0}
    repo = backend.open()
    repo.add_escalation(SYM, "close failed", 3, "boom")
    first, why = repo.read_bounded(queries.open_escalations, **wait)
    assert why is None and [e["reason"] for e in first] == ["close failed"]
    backend.sql("ALTER TABLE escalations RENAME TO escalations_away")
    last, why = repo.read_bounded(queries.open_escalations, **wait)
    assert last == first and why is not None and "escalations" in why
    assert repo.unreachable == why
    backend.sql("ALTER TABLE escalations_away RENAME TO escalations")
    again, why = repo.read_bounded(queries.open_escalations, **wait)
    assert again == first and why is None
    assert repo.unreachable is None
