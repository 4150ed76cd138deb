"""A person's resume of a quarantined symbol whose actor is backing off reaches the actor
that starts next.

Found by review: the supervisor told the resume to the child's actor ref whatever its state.
While the child backs off (its actor failed and waits for its restart) that ref is the dead
actor: the ActorDeadError was suppressed and the resume lost. The restarted actor restored
the quarantine from storage and stayed quarantined, while `bot.py resume` had answered
"resumed" and resolved its escalation (nothing in the status said it was still stopped).
Now a resume that finds no live actor is kept and told to the incarnation that starts next,
as one for a child the supervisor quarantined already is. Real supervisor, pykka actors,
SQLite and the paper exchange; the failure is a real stop of the actor nobody asked for."""

from __future__ import annotations

from supervision.restart_policy import RestartPolicy
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


def test_a_resume_while_backing_off_lifts_the_quarantine_after_the_restart(tmp_path):
    policy = RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=1.0,
                           backoff_max_s=1.0, stable_after_s=30)
    h = Harness(tmp_path, [BTC], policy=policy)
    h.repo.quarantine(BTC, "close failed 5 times", correlation_id="esc-1")
    h.start()
    try:
        wait_until(lambda: h.view(BTC) is not None and h.view(BTC).quarantined,
                   message="restored quarantined")
        child = h.child(BTC)
        child.ref.stop()  # the actor ends without the supervisor asking: a failure
        wait_until(lambda: child.state.value == "backing_off", message="backing off")
        h.sup.resume(BTC, by="tester")
        wait_until(lambda: child.restarts == 1 and child.state.value == "running",
                   message="restarted")
        wait_until(lambda: not h.view(BTC).quarantined, message="the quarantine lifted")
    finally:
        h.stop()
