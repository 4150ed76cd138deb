"""A crash loop too slow to escalate still reaches a person, once.

Found by review: escalation needs more than `max_restarts` failures within `restart_period_s`
(5 in 60 s by default); a symbol failing every 15 s forever never escalated and never alerted:
it showed only as log lines and a growing restart count. Now the failure past `max_restarts`
without a run of `stable_after_s` in between raises one `crash_loop` alert (the OTP intensity
and its escalation unchanged). Real supervisor, actors and SQLite; restarts spaced wider than
the intensity window by the backoff."""

from __future__ import annotations

from supervision.restart_policy import RestartHistory, RestartPolicy
from tests.support.crashing import ActorBug
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class AlwaysCrash:
    name = "always-crash"

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        raise ActorBug("bug on every price")


def test_a_slow_crash_loop_alerts_once_and_never_escalates(tmp_path):
    policy = RestartPolicy(max_restarts=2, period_s=0.2, backoff_initial_s=0.3,
                           backoff_max_s=0.3, stable_after_s=60)
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: AlwaysCrash(), policy=policy).start()
    try:
        for n in range(1, 6):  # a price after each restart: the running actor crashes on it
            wait_until(lambda: h.child(BTC).state.value == "running", message="running")
            h.clock.advance(1.0)
            h.poll()
            wait_until(lambda n=n: h.child(BTC).restarts >= n, message=f"restart {n}")
        assert h.child(BTC).state.value != "quarantined"  # too slow to escalate
        assert [a["kind"] for a in h.alerts.sent] == ["crash_loop"]
        assert "bug on every price" in h.alerts.sent[0]["message"]
    finally:
        h.stop()


def test_the_crash_loop_verdict_comes_once_per_loop():
    policy = RestartPolicy(max_restarts=2, period_s=10, backoff_initial_s=1, backoff_max_s=30,
                           stable_after_s=100)
    history = RestartHistory()
    verdicts = [history.on_failure(policy, t) for t in (0, 15, 30, 45, 60)]
    assert [v.crash_loop for v in verdicts] == [False, False, True, False, False]
    assert not any(v.escalate for v in verdicts)
    after_stable = [history.on_failure(policy, t) for t in (200, 215, 230)]
    assert [v.crash_loop for v in after_stable] == [False, False, True]
