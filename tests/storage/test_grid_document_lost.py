"""A hedge grid whose grid_state document is lost while its legs are open.

The start's reconciliation finds both legs on the exchange and adopts them again under new ids
(`adopted-...`), with stops. The rows of the legs the document held stayed `open` for good
beside the adopted ones: the account's entry gate counted four positions for the symbol at
every start (queries.held_at_start), and the status showed them. The grid's commit now closes
an open row of a side whose leg it adopts (the exchange holds one position a side), naming the
leg that carries on (storage/grid_store.py).

Production DecisionLoop and grid core, real SQLite closed and opened again, the document
deleted with sqlite3 in between (tests/storage/test_order_seq_after_lost_row.py's bot)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from actors.messages import Tick
from storage import queries
from tests.actors.test_cancel_reports_fill import SYM
from tests.storage.test_order_seq_after_lost_row import Bot


def test_the_rows_of_legs_adopted_again_are_closed_naming_the_new_leg(tmp_path: Path) -> None:
    bot = Bot(tmp_path, "grid")
    try:
        bot.handle(Tick(price=D(100)))
        state = bot.loop.state
        old = {state.long.position_id, state.short.position_id}
        assert None not in old

        bot.lose_rows("grid_state")
        bot.restart()
        bot.handle(Tick(price=D(100)))
        state = bot.loop.state
        assert state.long.is_open and state.short.is_open
        new = {state.long.position_id, state.short.position_id}
        assert not new & old

        rows = {pid: (status, reason) for pid, status, reason in bot.sql(
            "SELECT position_id, status, close_reason FROM positions")}
        assert {pid for pid, (status, _) in rows.items() if status == "open"} == new
        by_side = {state.long.side.value: state.long.position_id,
                   state.short.side.value: state.short.position_id}
        for pid, side in bot.sql("SELECT position_id, side FROM positions"):
            if pid in old:
                assert rows[pid] == ("closed", f"superseded by {by_side[side]}")
        assert bot.repo is not None
        assert bot.repo.read(queries.held_at_start, SYM, True) == 2
    finally:
        if bot.repo is not None:
            bot.repo.close()
