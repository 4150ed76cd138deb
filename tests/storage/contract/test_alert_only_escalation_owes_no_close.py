"""Storage contract: an escalation that closes (`Escalate(close=True)`: the close failed its
bounded attempts, incident 2) commits the emergency close it owes with itself; an alert-only
escalation (`close=False`: a contradiction that persists about a position that may well be open
and protected, trading/evidence.py) owes none. Every close still owed is run at the account's
next start (runtime/emergency.py `owed`, `resume_owed`).

Found by the incident-rule mutation audit (helper s): with the owed close written for every
escalation (storage/commit_sql.py:217), no test failed. An alert about a position the venue
did not list then left an owed close behind, and the next restart market-closed that open,
protected position. Real repository on each engine; the decisions are built by hand."""

from __future__ import annotations

from storage.commit_sql import EMERGENCY_OWED
from tests.storage.contract.backends import Backend
from tests.storage.contract.test_state import SYM, opened
from trading.commands import Escalate
from trading.decision import Decision


def test_only_an_escalation_that_closes_owes_an_emergency_close(backend: Backend):
    repo = backend.open()
    inc, sc = opened(repo)
    state = sc.state
    alert = Escalate(reason="position not listed by the exchange 3 times", attempts=3,
                     last_error=None, close=False)
    repo.commit(SYM, inc, state, Decision(state=state, commands=(alert,)),
                correlation_id="a", created_at=sc.now)
    assert repo.get_meta(EMERGENCY_OWED + SYM) is None

    close = Escalate(reason="close failed 5 times", attempts=5, last_error="rejected")
    repo.commit(SYM, inc, state, Decision(state=state, commands=(close,)),
                correlation_id="c", created_at=sc.now)
    assert repo.get_meta(EMERGENCY_OWED + SYM) == "close failed 5 times"
