"""A TEXT value that is not UTF-8 in one symbol's row (a hand edit in another encoding, a damaged
page) came back from SQLite as OperationalError while the row was fetched, not as a value the
readers could name: the account's start, which seeds its entry gate from every symbol's rows
(queries.open_positions_of), failed for all symbols, and the symbol's actor crash-looped on the
same error. It is now CorruptRow naming the table, the row and the column (the supervisor
quarantines that symbol as unreadable), and the others start."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from pathlib import Path

import pytest

from storage import queries
from storage.grid_store import HEDGE_GRID
from storage.repository import Repository
from storage.restore import CorruptRow
from tests.storage.contract.test_state import grid_with_both_legs
from trading.decision import Decision
from trading.model import Phase, Position, SymbolState, TrailingState, TrailingStop
from trading.orders import Order, OrderPurpose, OrderStatus
from trading.primitives import Side

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
NOT_UTF8 = "CAST(X'FF41' AS TEXT)"


def _open(repo: Repository, symbol: str, tag: str) -> None:
    inc = repo.claim(symbol)
    pid = f"p-{tag}"
    stop = Order(client_order_id=f"o-{tag}", purpose=OrderPurpose.STOP, side="sell",
                 amount=D("1.5"), price=D("99.5"), reduce_only=True, status=OrderStatus.OPEN,
                 exchange_id="x1", position_id=pid, created_at=2.0)
    state = SymbolState(
        symbol=symbol, phase=Phase.OPEN, stop_price=D("99.5"), orders=(stop,), order_seq=2,
        position=Position(position_id=pid, side=Side.LONG, contracts=D("1.5"),
                          entry_price=D("100"), opened_at=1.0),
        trailing=TrailingStop(state=TrailingState.WAITING, activation_price=D("100.5"),
                              callback_pct=D("0.3")))
    repo.commit(symbol, inc, SymbolState(symbol=symbol), Decision(state=state),
                correlation_id="c", created_at=1.0)


def _spoil(path: Path, statement: str) -> None:
    with sqlite3.connect(path) as con:
        con.execute(statement)


CASES = [
    ("actor_state", "close_reason", "symbol", BTC, f"actor_state row '{BTC}'"),
    ("positions", "entry_price", "position_id", "p-btc", f"positions row 'p-btc' of {BTC}"),
    ("positions", "status", "position_id", "p-btc", f"positions row 'p-btc' of {BTC}"),
    ("trailing_stops", "state", "symbol", BTC, f"trailing_stops row '{BTC}'"),
    ("orders", "last_error", "client_order_id", "o-btc", f"orders row 'o-btc' of {BTC}"),
]


@pytest.mark.parametrize(("table", "column", "key", "value", "named"), CASES,
                         ids=[f"{c[0]}.{c[1]}" for c in CASES])
def test_text_not_utf8_names_table_row_and_column_and_spares_the_others(
        tmp_path, table, column, key, value, named):
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        _open(repo, BTC, "btc")
        _open(repo, ETH, "eth")
        _spoil(path, f"UPDATE {table} SET {column} = {NOT_UTF8} WHERE {key} = '{value}'")

        with pytest.raises(CorruptRow) as err:
            repo.load(BTC)
        assert str(err.value) == f"{named}: field '{column}' = '\ufffdA': not UTF-8 text"
        assert repo.load(ETH).position is not None
        # the account's start: BTC holds its slot (unreadable), ETH its position
        assert repo.read(queries.open_positions_of, [BTC, ETH], False) == {BTC: 1, ETH: 1}
        assert repo.read(queries.unlisted_holdings, []) == {BTC: 1, ETH: 1}
    finally:
        repo.close()


@pytest.mark.parametrize(("table", "column", "key", "value", "named"), CASES,
                         ids=[f"{c[0]}.{c[1]}" for c in CASES])
def test_a_blob_not_utf8_in_a_text_column_is_named_too(
        tmp_path, table, column, key, value, named):
    """The same bytes written as a BLOB (`X'FF41'`, no CAST): SQLite hands them back as bytes
    and peewee's decoding raised a bare UnicodeDecodeError (found by review: the symbol's actor
    crash-looped on it, named nowhere, instead of being quarantined as unreadable)."""
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        _open(repo, BTC, "btc")
        _open(repo, ETH, "eth")
        _spoil(path, f"UPDATE {table} SET {column} = X'FF41' WHERE {key} = '{value}'")

        with pytest.raises(CorruptRow) as err:
            repo.load(BTC)
        assert str(err.value) == f"{named}: field '{column}' = '\ufffdA': not UTF-8 text"
        assert repo.load(ETH).position is not None
        assert repo.read(queries.open_positions_of, [BTC, ETH], False) == {BTC: 1, ETH: 1}
    finally:
        repo.close()


def test_a_grid_document_not_utf8_is_named(tmp_path):
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        grid_with_both_legs(repo)
        _spoil(path, f"UPDATE grid_state SET data = {NOT_UTF8}")
        with pytest.raises(CorruptRow) as err:
            repo.load(BTC, store=HEDGE_GRID)
        assert str(err.value) == f"grid_state row '{BTC}': field 'data' = '\ufffdA': not UTF-8 text"
        assert repo.read(queries.open_positions_of, [BTC], True) == {BTC: 2}
    finally:
        repo.close()


def test_a_journal_row_not_utf8_is_named(tmp_path):
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        repo.record(BTC, "SignalReceived", {"signal_id": "s1"}, correlation_id="s1")
        repo.record(BTC, "SignalReceived", {"signal_id": "s2"}, correlation_id="s2")
        assert [s["signal_id"] for s in repo.unhandled_signals(BTC)] == ["s1", "s2"]
        _spoil(path, f"UPDATE events SET data = {NOT_UTF8} WHERE correlation_id = 's2'")
        ((row_id,),) = sqlite3.connect(path).execute(
            "SELECT id FROM events WHERE correlation_id = 's2'").fetchall()
        with pytest.raises(CorruptRow) as err:
            repo.unhandled_signals(BTC)
        assert str(err.value) == (f"events row '{row_id}' of {BTC}: field 'data' = '\ufffdA': "
                                  "not UTF-8 text")
    finally:
        repo.close()


def test_a_grid_quarantine_reason_stored_as_a_blob_is_text_or_named(tmp_path):
    """The grid reads actor_state's flags on its raw connection, which hands a BLOB back as
    bytes: kept in the state, every later commit of the symbol failed ("Object of type bytes is
    not JSON serializable" writing its document) and its actor crash-looped, named nowhere
    (found by review). A BLOB that is UTF-8 is its text; one that is not is a CorruptRow."""
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        grid_with_both_legs(repo)
        _spoil(path, "UPDATE actor_state SET quarantined = 1, quarantine_reason = X'FF41'")
        with pytest.raises(CorruptRow) as err:
            repo.load(BTC, store=HEDGE_GRID)
        assert str(err.value) == (f"actor_state row '{BTC}': field 'quarantine_reason' = "
                                  "'\ufffdA': not UTF-8 text")

        _spoil(path, "UPDATE actor_state SET quarantine_reason = X'4142'")
        state = repo.load(BTC, store=HEDGE_GRID)
        assert state.quarantined and state.quarantine_reason == "AB"
        inc = repo.claim(BTC)  # and the symbol's next commit goes through
        repo.commit(BTC, inc, state, Decision(state=state), correlation_id="c", created_at=2.0,
                    store=HEDGE_GRID)
        assert repo.load(BTC, store=HEDGE_GRID).quarantine_reason == "AB"
    finally:
        repo.close()


def test_an_old_id_not_utf8_is_named_by_the_order_sequence_floor(tmp_path):
    """The restore reads every stored id of the symbol for the highest order sequence used
    (storage/seq_floor.py), in one statement; text that is not UTF-8 fails it on SQLite, and
    the sources are read again one by one so the row is named, as every reader names it."""
    path = tmp_path / "bot.sqlite"
    repo = Repository(path)
    try:
        _open(repo, BTC, "btc")
        _open(repo, ETH, "eth")
        _spoil(path, "INSERT INTO positions (position_id, symbol, side, contracts, entry_price, "
                     f"opened_at, closed_at, status, realized_pnl, fees) VALUES ({NOT_UTF8}, "
                     f"'{BTC}', 'long', '0', '100', 1, 2, 'closed', '0', '0')")
        with pytest.raises(CorruptRow) as err:
            repo.load(BTC)
        assert str(err.value) == (f"positions row '\ufffdA' of {BTC}: field 'position_id' = "
                                  "'\ufffdA': not UTF-8 text")
        assert repo.load(ETH).position is not None
    finally:
        repo.close()
