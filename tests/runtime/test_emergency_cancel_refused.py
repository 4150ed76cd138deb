"""A cancel the venue refuses (an error that is not temporary) during the emergency close (found
by review): it ended the run as a permanent failure, the close was no longer owed and nobody
closed the escalated position, even when the order was a reduce-only take-profit that could
simply have been left in place. Now such an order is left in place and the close goes on; an
entry not cancelled stops the close, which stays owed, as with a temporary error. Real paper
exchange (its fault injector answers the errors) and real SQLite."""

from __future__ import annotations

from exchange import errors
from runtime.emergency import OWED
from storage import queries
from tests.exchange.paper.paper_support import BTC
from tests.runtime.test_emergency_temporary_errors import (
    ENTRY,
    TAKE_PROFIT,
    _open,
    closed_with_a_cancel_failing,
)


def test_a_reduce_only_order_whose_cancel_is_refused_does_not_stop_the_close(tmp_path):
    with closed_with_a_cancel_failing(tmp_path, TAKE_PROFIT,
                                      errors.InvalidOrder("order is being amended"),
                                      1) as (paper, repo, _):
        assert _open(paper) == []
        assert repo.read(queries.events, BTC, "EmergencyCloseFailed") == []
        assert repo.get_meta(OWED + BTC) == ""


def test_an_entry_whose_cancel_is_refused_stops_the_close_and_it_stays_owed(tmp_path):
    with closed_with_a_cancel_failing(tmp_path, ENTRY,
                                      errors.InvalidOrder("order is being amended"),
                                      1) as (paper, repo, _):
        assert len(_open(paper)) == 1  # not closed while the entry could open a new position
        [failed] = repo.read(queries.events, BTC, "EmergencyCloseFailed")
        assert "not reduce-only" in failed["data"]["error"]
        assert repo.get_meta(OWED + BTC) == "close failed 3 times"
