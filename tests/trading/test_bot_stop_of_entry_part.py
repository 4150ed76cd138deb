"""Bot-side stops (`exchange.stop_mode = "bot"`): the filled part of an entry still open is
stopped by the bot when the price goes through its stop level (defect: `on_price` ran the exits
only once the position was open, so with no exchange stop resting the part had no stop at all
while the rest of the entry was open; INCIDENTS rule 5). The rest of the entry is cancelled and
the part closed as a stop-out. Driven through `decide` and through production's decision loop
with its quiet band."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.commands import CancelOrder
from trading.events import PriceTicked
from trading.model import OrderPurpose, Phase


def _part_filled() -> tuple[Core, str]:
    c = Core(bot_side_stops=True)
    entry = c.entry()
    c.report(entry, "0.5", complete=False)
    assert c.state.phase is Phase.ENTERING and c.state.position.contracts == D("0.5")
    assert c.placed(OrderPurpose.STOP) == []  # bot-side: no exchange stop
    return c, entry.client_order_id


def test_the_part_of_an_entry_still_open_is_closed_through_its_bot_side_stop():
    c, entry = _part_filled()
    c.send(PriceTicked(price=D("99.5")))  # above the stop (99.0): nothing
    assert c.state.phase is Phase.ENTERING and not c.last.commands
    d = c.send(PriceTicked(price=D("98.9")))
    assert c.state.phase is Phase.CLOSING, "the part through its stop was left open"
    assert c.state.close_reason == "stop_loss"
    (close,) = c.placed(OrderPurpose.CLOSE)
    assert close.amount == D("0.5")
    assert entry in {x.client_order_id for x in d.commands if isinstance(x, CancelOrder)}


def test_the_quiet_band_lets_the_part_s_stop_act():
    c, _ = _part_filled()
    band = c.core.quiet_band(c.state)
    assert band is None or not band.contains(D("98.9"), c.now)
