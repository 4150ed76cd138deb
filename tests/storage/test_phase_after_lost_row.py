"""A one-way symbol whose actor_state row is lost while its position is open is restored open.

The phase lives in actor_state only; the position has its own row. With actor_state gone
(deleted by hand, lost) the claim at start wrote a fresh row, phase `flat`, and the restore
read a FLAT symbol holding an open position: the entry guard, which asks the phase, let a new
entry go out on top of the position (doubling it, or, on a one-way account, netting it
against it). A position row that is open makes the restored phase OPEN (storage/restore.py).

Production DecisionLoop and core, real SQLite closed and opened again, the row deleted with
sqlite3 in between, the fake venue of tests/storage/test_order_seq_after_lost_row.py."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from actors.messages import ExternalSignal, Tick, Timer
from tests.storage.test_order_seq_after_lost_row import Bot
from trading.model import Phase, Side


@pytest.mark.parametrize("signal", [Side.LONG, Side.SHORT])
def test_a_position_open_when_its_actor_state_row_was_lost_takes_no_new_entry(
        tmp_path: Path, signal: Side) -> None:
    bot = Bot(tmp_path, "one_way")
    try:
        bot.venue.mark = D(100)
        bot.handle(Tick(price=D(100)))
        bot.handle(ExternalSignal(side=Side.LONG, signal_id="in"))
        position = bot.loop.state.position
        assert bot.loop.state.phase is Phase.OPEN and position is not None

        bot.lose_rows("actor_state")
        bot.restart()
        assert bot.loop.state.position == position
        sent = len(bot.venue.sent)
        bot.handle(ExternalSignal(side=signal, signal_id="again"))
        bot.handle(Timer())

        assert [cid for cid in bot.venue.sent[sent:] if cid.endswith("e")] == []
        assert bot.loop.state.phase is Phase.OPEN
        assert bot.loop.state.position == position
        bot.handle(ExternalSignal(side=None, signal_id="out"))  # the strategy's exit still acts
        assert bot.loop.state.position is None
    finally:
        if bot.repo is not None:
            bot.repo.close()
