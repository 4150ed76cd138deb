"""A symbol that crashes at start every 30 s (defaults: 5 restarts in 60 s escalate, 120 s of
health resets the backoff) never escalates and never resets; its backoff must stay at the cap
however long that goes on, not overflow (found by review: 0.5 * 2 ** 1024 raised OverflowError
inside the supervisor after ~1,024 restarts, about 9 hours)."""

from __future__ import annotations

from supervision.restart_policy import RestartHistory, RestartPolicy


def test_a_day_of_restarts_every_30_s_keeps_the_capped_backoff():
    policy = RestartPolicy(max_restarts=5, period_s=60, backoff_initial_s=0.5,
                           backoff_max_s=30, stable_after_s=120)
    history = RestartHistory()
    verdicts = [history.on_failure(policy, 30.0 * i) for i in range(2 * 24 * 60 * 2)]
    assert not any(v.escalate for v in verdicts)
    assert {v.delay_s for v in verdicts[10:]} == {30}
    assert history.consecutive == len(verdicts)
