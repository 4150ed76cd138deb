"""Storage contract: a one-way symbol has at most one open position, so a second open row of
it (a row an older version or a hand edit left open, a commit that failed to close one) makes
its state unreadable: the restore raises CorruptRow naming the table and why, and the
supervisor quarantines that one symbol (incident 7). Restored with either row silently, the
other position, perhaps live on the exchange, went untracked: its stop unmanaged, and the
reconciliation measured the venue's contracts against the wrong row.

Found by the incident-rule mutation audit (helper s): with the restore's "more than one open
position" check removed (storage/restore.py:324), or the select reading one row
(storage/restore_selects.py, `limit(1)`), no test failed. Real repository on each engine."""

from __future__ import annotations

import pytest

from storage.restore import CorruptRow
from tests.storage.contract.backends import Backend
from tests.storage.contract.test_state import SYM, opened


def test_a_second_open_position_row_makes_the_symbol_unreadable(backend: Backend):
    repo = backend.open()
    opened(repo)
    assert repo.load(SYM).position is not None
    backend.sql(
        "INSERT INTO positions (position_id, symbol, side, contracts, entry_price, opened_at, "
        "status, realized_pnl, fees) SELECT 'left-open-by-hand', symbol, side, '2', "
        "entry_price, opened_at - 60, 'open', '0', '0' FROM positions WHERE symbol = ?",
        (SYM,))
    with pytest.raises(CorruptRow, match=r"positions row .*more than one open position"):
        repo.load(SYM)
