"""An emergency close run to its end is no longer owed, in the status dump too: the owed marker
is cleared to "" (not deleted), and the status dump's read of every close owed
(`owed_closes`) must skip the cleared ones. Found by mutation audit: dropping its
`Meta.value != ""` filter failed no test, and a bot whose close went through would show
`EMERGENCY CLOSE OWED` for it for ever (and, for a symbol later taken off symbols.list, alert
it at every start). Real paper exchange and real SQLite."""

from __future__ import annotations

from runtime.emergency import OWED, owed_closes
from tests.exchange.paper.paper_support import BTC
from tests.runtime.test_emergency_temporary_errors import _open, _run, _setup


def test_a_close_that_went_through_is_not_listed_as_owed(tmp_path):
    paper, repo, closer, _ = _setup(tmp_path)  # a long of 1 BTC
    try:
        repo.set_meta(OWED + "ETH/USDT:USDT", "close failed 3 times")  # another, still owed
        _run(closer, repo)
        assert _open(paper) == []
        assert repo.get_meta(OWED + BTC) == ""  # cleared, the row stays
        owed = repo.read(owed_closes)
        assert owed == {"ETH/USDT:USDT": "close failed 3 times"}
        assert [e["symbol"] for e in closer.owed_status(owed, [BTC], [])] == ["ETH/USDT:USDT"]
    finally:
        repo.close()
        paper.close()
