"""A hook thread that meets an unexpected exception goes on, and never leaves its hook blocked.

Found by review: an exception escaping a hook thread's loop (a bug in one try of a hook, or in
the backoff wait) ended the thread where it stood. Its count of running threads was never given
back and, when it was retrying a failing hook, the hook stayed owned by the dead thread: no
other thread took that hook's alerts again, and every later alert for it waited in the outbox,
undelivered, for the rest of the run (with one hook thread, at once). Now a try that raises is a
failed try (the alert is kept and retried on the hook's backoff), and any other exception in the
loop keeps the alert in the outbox for the next start, in one ERROR line; the thread goes on.

Real parts: an HTTP server on 127.0.0.1, the real POST (hook_calls.post), the SQLite outbox; the
faults come in through the constructor (``call``, ``sleep``)."""

from __future__ import annotations

import json
from typing import Any

from loguru import logger

from supervision.alerts import Alerts
from supervision.hook_calls import Outcome, post
from supervision.hook_outbox import FILE_NAME, HookOutbox
from tests.notifications.scripted_http import ScriptedHttp
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


def test_a_hook_try_that_raises_is_retried_and_the_later_alerts_still_go(lines):
    server = ScriptedHttp()
    raised: list[str] = []

    def call(hook: str, payload: dict[str, Any]) -> Outcome:
        if not raised:  # a bug in the first try only
            raised.append(payload["message"])
            raise RuntimeError("a bug in the hook's try")
        return post(server.url + "/hook", json.dumps(payload), 5, 600)

    waits: list[float] = []
    alerts = Alerts(logger=logger, webhook=server.url + "/hook", timeout_s=5, hook_threads=1,
                    sleep=waits.append, call=call)
    try:
        alerts.alert(BTC, "escalation", "first")
        alerts.alert(BTC, "unprotected", "second")
        wait_until(lambda: server.answered == 2, timeout=10, message="both alerts delivered")
        alerts.wait(10)
    finally:
        server.stop()
    assert raised == ["first"]
    assert [body["message"] for body in server.bodies()] == ["first", "second"]
    assert waits == [5.0]  # the raising try was a failed try, on the hook's backoff
    failing = [line for line in lines if "failing" in line]
    assert len(failing) == 1 and "a bug in the hook's try" in failing[0], lines


def test_a_backoff_wait_that_raises_keeps_the_alert_and_frees_the_hook(tmp_path, lines):
    server = ScriptedHttp()
    server.script = [(503, {})]

    def sleep(seconds: float) -> None:
        raise RuntimeError("a bug in the backoff wait")

    outbox = HookOutbox(tmp_path / FILE_NAME, "main", logger)
    alerts = Alerts(logger=logger, webhook=server.url + "/hook", timeout_s=5, hook_threads=1,
                    sleep=sleep, outbox=outbox)
    try:
        alerts.alert(BTC, "escalation", "refused, then its wait broke")
        wait_until(lambda: server.answered == 1, timeout=10, message="the first refused")
        alerts.alert(BTC, "unprotected", "later")
        wait_until(lambda: server.answered == 2, timeout=10, message="the later one delivered")
        alerts.wait(10)
        left = [payload["message"] for _, payload, _ in outbox.left()]
    finally:
        outbox.close()
        server.stop()
    assert [body["message"] for body in server.bodies()] == ["refused, then its wait broke",
                                                             "later"]
    assert left == ["refused, then its wait broke"]  # kept for the next start, not lost
    broke = [line for line in lines if "a bug in the backoff wait" in line]
    assert broke and "ERROR" in broke[0] and "kept in the outbox" in broke[0], lines
