"""A closed long's close that fills after the next long opened reduces that long (on a one-way
venue a sell while long does), before a restart and after it alike.

Found by review: `_exit_filled` told a late fill of another position's order apart by
comparing the order's side with the position's exit side by identity (`is not`) instead of
value. Orders created in the running process carry the interned literal ('sell'); orders
restored from the database carry a string SQLite made, equal but not the same object. So after
a restart the late sell was booked as a fill without its position (no P&L, under the closed
long) while the venue took it off the open long: the books held the long at its full size and
that part's P&L was never booked (the reconciliation only resized the position).

Production DecisionLoop and one-way core, real SQLite Repository (the restart restores the
state from it); the test plays the venue's part."""

from __future__ import annotations

import dataclasses
import sqlite3
from decimal import Decimal as D
from pathlib import Path

import pytest

from actors.cores import as_core
from actors.loop import DecisionLoop
from storage.repository import Repository
from tests.trading.conftest import make_rules
from tests.trading.scenario import QuietLog
from trading.commands import Command, PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    Event,
    OrderAccepted,
    OrderFilled,
    PriceTicked,
    SignalRaised,
)
from trading.model import OrderPurpose, Phase, Side

SYM = "BTC/USDT:USDT"


class Bot:
    """One symbol's production loop on a real SQLite database; `restart` restores it from there."""

    def __init__(self, tmp: Path) -> None:
        self.t = 1_700_000_000.0
        self.repo = Repository(tmp / "bot.sqlite", synchronous="normal", clock=lambda: self.t)
        self.core = SymbolCore(dataclasses.replace(make_rules(cooldown_after_loss_s=0.0),
                                                    id_tag=self.repo.id_tag))
        self.hold_closes = False
        self.held: list[PlaceOrder] = []
        self.loop = self._loop()

    def _loop(self) -> DecisionLoop:
        loop = DecisionLoop(SYM, core=as_core(self.core), exchange=None,  # type: ignore[arg-type]
                            repo=self.repo, log=QuietLog(), on_escalate=lambda s, e: None,
                            clock=lambda: self.t, execute=self.venue)
        loop.incarnation = self.repo.claim(SYM)
        loop.adopt(self.repo.load(SYM))
        return loop

    def restart(self) -> None:
        self.loop = self._loop()

    def venue(self, cmd: Command) -> list[Event]:
        if not isinstance(cmd, PlaceOrder):
            return []
        o = cmd.order
        if o.stop_price is not None:
            return [OrderAccepted(client_order_id=o.client_order_id,
                                  exchange_id="x" + o.client_order_id)]
        if o.purpose is OrderPurpose.CLOSE and self.hold_closes:
            self.held.append(cmd)
            return []
        return [self.fill(o.client_order_id, o.amount)]

    def fill(self, cid: str, amount: D) -> OrderFilled:
        return OrderFilled(client_order_id=cid, exchange_id="x" + cid, filled=amount,
                           average=D("100"), fee=D("0.01"), complete=True)

    def send(self, event: Event) -> None:
        self.t += 1
        self.loop.apply(event)


@pytest.mark.parametrize("restart", [False, True])
def test_a_late_close_fill_reduces_the_next_long_after_a_restart(tmp_path: Path,
                                                                 restart: bool) -> None:
    bot = Bot(tmp_path)
    try:
        bot.send(PriceTicked(price=D("100")))
        bot.send(SignalRaised(side=Side.LONG))
        first = bot.loop.state.position
        assert first is not None and bot.loop.state.phase is Phase.OPEN
        bot.hold_closes = True
        bot.send(SignalRaised(side=None, reason="exit"))  # the venue holds the close's answer
        (close,) = bot.held
        stop = bot.loop.state.active_stop()
        bot.send(bot.fill(stop.client_order_id, first.contracts))  # the stop closes it first
        assert bot.loop.state.position is None
        bot.hold_closes = False
        bot.send(SignalRaised(side=Side.LONG, size_usdt=D(200)))  # the next long, twice the size
        second = bot.loop.state.position
        assert second is not None and second.position_id != first.position_id
        if restart:
            bot.restart()  # restored from the database
        part = close.order.amount
        bot.send(bot.fill(close.order.client_order_id, part))  # the held close fills now
        pos = bot.loop.state.position
        assert pos is not None and pos.contracts == second.contracts - part, (
            f"a late sell of the closed long did not reduce the open long ({restart=})")
        with sqlite3.connect(tmp_path / "bot.sqlite") as c:  # the ledger row of that fill
            rows = c.execute("SELECT position_id, amount FROM fills WHERE client_order_id = ?",
                             (close.order.client_order_id,)).fetchall()
        assert [(pid, D(str(amount))) for pid, amount in rows] == [(second.position_id, part)]
    finally:
        bot.repo.close()
