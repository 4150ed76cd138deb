"""An exchange outage longer than about an hour must not crash every symbol's actor.

Found by review: each failed reconciliation in a row doubles its wait with the close backoff
(`close_backoff_initial_s * 2 ** (failures - 1)`, capped at `close_backoff_max_s`), and the
count of failures in a row had no bound. While the venue is unreachable the timer retries every
5 s (TEMPORARY_MAX_WAIT_S) and the periodic reconciliation every 30 s, so after about 1,025
failures in a row (~80 minutes of a venue's maintenance or a host's network outage) the
doubling no longer fit a float: `OverflowError: int too large to convert to float` was raised
in the loop's error path, out of the actor's message (a crash and a restart of every actor,
then again after the next ~80 minutes). The same count grew a failed cancel's wait.

Production DecisionLoop and cores (both styles), real SQLite Repository, the fake venue of
tests/actors/test_stuck_close_escalates.py given to the loop's constructor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.messages import ExternalSignal, Reconcile
from exchange import errors
from tests.actors.test_stuck_close_escalates import Bot, raise_
from trading.model import Side


@pytest.fixture(params=["one_way", "grid"])
def bot(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bot]:
    b = Bot(tmp_path, request.param)
    try:
        yield b
    finally:
        b.repo.close()


def test_reconciliation_keeps_retrying_through_a_long_outage(bot: Bot):
    bot.tick("100")  # the grid opens both legs; the one-way symbol enters long
    if bot.style == "one_way":
        bot.loop.handle(ExternalSignal(side=Side.LONG, signal_id="in"))
    assert bot.position_tracked()
    bot.fx.before["fetch_positions"] = raise_(errors.NetworkError("connection refused"))
    bot.fx.before["fetch_order"] = raise_(errors.NetworkError("connection refused"))
    bot.fx.before["fetch_open_orders"] = raise_(errors.NetworkError("connection refused"))
    bot.loop.handle(Reconcile(reason="periodic"))
    bot.run(6000)  # 100 minutes without the venue: > 1,100 failed reconciliations in a row
    assert bot.loop._retry.failures > 1100
    assert not bot.loop.reconciled
    bot.fx.before.clear()  # the venue is back: the next timer's retry succeeds
    bot.run(10)
    assert bot.loop.reconciled
    assert bot.position_tracked()

