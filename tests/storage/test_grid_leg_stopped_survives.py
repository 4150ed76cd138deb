"""A grid leg part of which its stop closed stays "stopped" across a restart (its close is a
stop-out however its last part closes: trading/grid/handlers.py): the codec of the stored grid
state; a stored value that is not a boolean is a corrupt row, named."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from storage import grid_codec
from storage.restore import CorruptRow
from trading.grid.model import GridState, Leg
from trading.model import Side

BTC = "BTC/USDT:USDT"


def _state(stopped: bool) -> GridState:
    leg = Leg(side=Side.LONG, position_id="acc-BTC-1e", contracts=D("0.6"),
              entry_price=D(100), stop_price=D(95), stopped=stopped)
    return GridState(symbol=BTC, long=leg)


@pytest.mark.parametrize("stopped", [True, False])
def test_the_flag_round_trips(stopped: bool) -> None:
    assert grid_codec.loads(BTC, grid_codec.dumps(_state(stopped))).long.stopped is stopped


def test_rows_written_before_the_flag_read_as_not_stopped() -> None:
    text = grid_codec.dumps(_state(False)).replace(',"stopped":false', "")
    assert '"stopped"' not in text
    assert grid_codec.loads(BTC, text).long.stopped is False


def test_a_flag_that_is_not_a_boolean_is_a_corrupt_row_naming_the_field() -> None:
    text = grid_codec.dumps(_state(True)).replace('"stopped":true', '"stopped":"yes"')
    with pytest.raises(CorruptRow, match="data.long.stopped"):
        grid_codec.loads(BTC, text)



@pytest.mark.parametrize(("field", "stored"), [("quarantined", '"false"'),
                                               ("entries_blocked", "1"),
                                               ("quarantine_reason", "5")])
def test_the_states_own_flags_are_read_as_strictly_as_the_legs(field: str, stored: str) -> None:
    """Found by review: `bool(...)` read a hand-edited "false" as true (quarantining the
    symbol) and a 1 as a flag; the quarantine reason was kept whatever it was."""
    text = grid_codec.dumps(_state(False))
    assert text.endswith("}")
    text = text[:-1] + f',"{field}":{stored}}}'
    with pytest.raises(CorruptRow, match=f"data.{field}"):
        grid_codec.loads(BTC, text)


def test_the_states_own_flags_round_trip() -> None:
    import dataclasses

    state = dataclasses.replace(_state(False), quarantined=True, quarantine_reason="why",
                                entries_blocked=True)
    back = grid_codec.loads(BTC, grid_codec.dumps(state))
    assert (back.quarantined, back.quarantine_reason, back.entries_blocked) == (True, "why", True)


@pytest.mark.parametrize("field", ["stop_price", "entry_price"])
def test_an_open_leg_without_its_stop_or_entry_price_is_a_corrupt_row(field: str) -> None:
    """Found by review: an open leg stored without its stop price passed the codec and crashed
    the actor on a bare assert at every price (restarts, escalation, the emergency close); now
    the row is unreadable, named, and the symbol quarantined while its exchange stop protects."""
    import json

    doc = json.loads(grid_codec.dumps(_state(False)))
    doc["long"][field] = None
    with pytest.raises(CorruptRow, match=f"'data.long.{field}' = None: missing for an open leg"):
        grid_codec.loads(BTC, json.dumps(doc))
    flat = json.loads(grid_codec.dumps(GridState(symbol=BTC)))
    flat["long"][field] = None  # a flat leg has neither
    assert grid_codec.loads(BTC, json.dumps(flat)).long.stop_price is None
