"""A replaced incarnation whose reconciliation its fence refused decides nothing more.

Found by review: the loop's reconciliation took the fence's refusal (`Fenced`: the supervisor
replaced this incarnation) for a temporary failure and the message went on. A `Timer` then
decided its duties (`TimerFired`): a hung actor that woke retried a pending close, committing a
counted close attempt (CloseRequested) that its fence then refused to send. Its successor
restored one attempt more than were sent, toward the escalation after max_close_attempts
(incident 2). Now the refusal ends the message, as in an order report's lookup. Production
DecisionLoop and core, real SQLite, the fake venue of test_stuck_close_escalates.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from actors.messages import ExternalSignal, Reconcile, Timer
from exchange import errors
from exchange.fence import Fenced
from tests.actors.test_stuck_close_escalates import Bot
from tests.support.faulty_exchange import is_close_order
from trading.model import Phase, Side


def test_a_fenced_reconciliation_ends_the_message_before_its_duties(tmp_path: Path):
    bot = Bot(tmp_path, "one_way")
    try:
        bot.tick("100")
        bot.loop.handle(ExternalSignal(side=Side.LONG, signal_id="in"))
        assert bot.loop.state.phase is Phase.OPEN

        def refuse_close(name, args, kwargs):  # noqa: ANN001, ANN202
            if is_close_order(args, kwargs):
                raise errors.InvalidOrder("close refused")

        bot.fx.before["create_order"] = refuse_close
        bot.loop.handle(ExternalSignal(side=None, signal_id="out"))  # attempt 1, refused
        assert len(bot.journal("CloseRequested")) == 1
        bot.fx.before["fetch_positions"] = lambda *a: (_ for _ in ()).throw(
            errors.NetworkError("down"))
        bot.loop.handle(Reconcile(reason="periodic"))  # the Timer will retry it
        assert not bot.loop.reconciled

        def fenced(*_args):  # noqa: ANN002, ANN202
            raise Fenced("BTC: actor incarnation 1 was replaced; its exchange call is not sent")

        for name in ("fetch_positions", "fetch_open_orders", "fetch_order", "create_order"):
            bot.fx.before[name] = fenced  # the supervisor replaced this incarnation
        bot.t += 60  # the close's backoff and the reconciliation's retry are both due
        with pytest.raises(Fenced):
            bot.loop.handle(Timer())
        assert len(bot.journal("CloseRequested")) == 1  # no attempt counted that was never sent
    finally:
        bot.repo.close()
