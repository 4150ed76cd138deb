"""An alert whose hook fails for a reason that can pass is kept and retried until it arrives.

Found by review: a webhook alert's outbox row was removed after 3 tries (about 10 s), or at
once on any 4xx answer including 401/403/429, and an ``alert_command`` that exited non-zero
was given up at its first run: a pager outage longer than ~10 s, a rotated webhook key or a
rate-limited endpoint lost an escalation or an ``unprotected`` alert for good, even across a
restart. Now such a failure keeps the alert in the outbox (alert_hooks.db) and retries it
with a doubling backoff (5 s up to 10 minutes, a Retry-After honoured) for as long as the bot
runs and again at the next start; an answer saying the request itself is wrong (400, 404,
410, 413, 422) drops it in one ERROR line, as does an age past 24 h; a bounded outbox drops
its oldest low-importance alerts first, in one line.

Real parts: HTTP servers on 127.0.0.1, real `sh` subprocesses, the SQLite outbox. The backoff
waits go through the injected ``sleep`` (recorded, not slept): the outage below lasts longer
than today's ~10 s in the bot's own time, without the test waiting for it."""

from __future__ import annotations

import json
import threading
import time

import pytest
from loguru import logger

from supervision.alerts import Alerts
from supervision.hook_outbox import FILE_NAME, HookOutbox
from tests.notifications.scripted_http import ScriptedHttp
from tests.support.waiting import wait_until

KEY = "HOOKSECRET4711"
BTC = "BTC/USDT:USDT"


def _said(lines: list[str], text: str) -> list[str]:
    return [line for line in lines if text in line]


def test_a_503_outage_longer_than_three_tries_delivers_each_alert_once_in_order(lines):
    server = ScriptedHttp()
    server.script = [(503, {})] * 6
    waits: list[float] = []
    alerts = Alerts(logger=logger, webhook=f"{server.url}/hook?key={KEY}", timeout_s=5,
                    sleep=waits.append, hook_threads=1)
    try:
        for i in range(3):
            alerts.alert(BTC, "escalation", f"alert {i}")
        wait_until(lambda: server.answered == 9, timeout=20, message="6 refusals, 3 deliveries")
        alerts.wait(10)
    finally:
        server.stop()
    assert waits == [5.0, 10.0, 20.0, 40.0, 80.0, 160.0]  # 315 s of outage, doubling
    bodies = [body["message"] for body in server.bodies()]
    assert bodies[6:] == ["alert 0", "alert 1", "alert 2"]  # each once, oldest first
    assert set(bodies[:6]) == {"alert 0"}  # none newer went before the oldest arrived
    assert len(_said(lines, "failing")) == 1, lines  # one line when it starts failing
    assert len(_said(lines, "delivers again")) == 1, lines  # and one when it recovers
    assert not _said(lines, KEY)


@pytest.mark.parametrize("status", [401, 403])
def test_a_401_is_kept_across_a_restart_and_delivered_at_the_next_start(tmp_path, lines, status):
    # 403 too (found by the mutation audit: dropping 403 at once passed every test)
    server = ScriptedHttp(lambda path, body: (status, {"error": "invalid key"}))
    url = f"{server.url}/hook?key={KEY}"
    outbox = HookOutbox(tmp_path / FILE_NAME, "main", logger)
    alerts = Alerts(logger=logger, webhook=url, timeout_s=5, outbox=outbox)
    try:
        alerts.alert(BTC, "unprotected", "stop coverage 0%")
        wait_until(lambda: _said(lines, "failing"), timeout=10, message="the 401 said")
        alerts.wait(0.2)  # the bot stops while the retry waits: kept
        outbox.close()
        assert server.count == 1
        said = _said(lines, "failing")
        assert len(said) == 1 and str(status) in said[0] and "key" in said[0], said
        server.answer = lambda path, body: (200, {})  # the user fixed the key
        outbox = HookOutbox(tmp_path / FILE_NAME, "main", logger)
        again = Alerts(logger=logger, webhook=url, timeout_s=5, outbox=outbox)
        again.resend_left()
        wait_until(lambda: server.answered == 2, timeout=10, message="delivered at the start")
        again.wait(10)
        assert outbox.left() == []
    finally:
        outbox.close()
        server.stop()
    delivered = server.bodies()[1]
    assert delivered["kind"] == "unprotected" and delivered["queued_at"] is not None
    assert not _said(lines, KEY)


def test_a_400_is_dropped_in_one_error_line_naming_the_hook_and_the_status(tmp_path, lines):
    server = ScriptedHttp(lambda path, body: (400, {"error": "bad payload"}))
    outbox = HookOutbox(tmp_path / FILE_NAME, "main", logger)
    alerts = Alerts(logger=logger, webhook=f"{server.url}/hook/{KEY}?key={KEY}", timeout_s=5,
                    outbox=outbox, sleep=lambda s: None)
    try:
        alerts.alert(BTC, "escalation", "closes failed")
        alerts.wait(10)
        assert outbox.left() == []
    finally:
        outbox.close()
        server.stop()
    assert server.count == 1  # not tried again
    dropped = _said(lines, "dropped")
    assert len(dropped) == 1 and "ERROR" in dropped[0], lines
    assert "400" in dropped[0] and "127.0.0.1" in dropped[0], dropped
    assert "escalation alert for BTC/USDT:USDT" in dropped[0], dropped
    assert not _said(lines, KEY)


def test_a_command_exiting_non_zero_is_retried_until_it_succeeds(tmp_path, lines):
    count, got = tmp_path / "count", tmp_path / "got"
    script = (f'n=$(cat {count} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {count}; '
              f'if [ $n -lt 4 ]; then echo "pager down" >&2; exit 3; fi; cat >> {got}')
    waits: list[float] = []
    alerts = Alerts(logger=logger, command=f"sh -c '{script}'", sleep=waits.append)
    alerts.alert(None, "kill_switch", "no new entries")
    wait_until(got.exists, timeout=20, message="the command's fourth run")
    alerts.wait(10)
    assert waits == [5.0, 10.0, 20.0]
    assert json.loads(got.read_text())["kind"] == "kill_switch"
    assert count.read_text().strip() == "4"
    failing = _said(lines, "failing")
    assert len(failing) == 1 and "exited with 3" in failing[0] and "pager down" in failing[0]
    assert len(_said(lines, "delivers again")) == 1


def test_an_alert_older_than_its_bound_is_dropped_in_one_error_line(tmp_path, lines):
    path = tmp_path / FILE_NAME
    outbox = HookOutbox(path, "main", logger)
    row = outbox.add({"symbol": BTC, "kind": "escalation", "message": "closes failed"})
    outbox._file.write("UPDATE hooks SET queued_at = ? WHERE id = ?",
                       (time.time() - 25 * 3600, row))
    server = ScriptedHttp(lambda path, body: (503, {}))
    alerts = Alerts(logger=logger, webhook=f"{server.url}/hook?key={KEY}", timeout_s=5,
                    outbox=outbox, sleep=lambda s: None)
    try:
        alerts.resend_left()
        alerts.wait(10)
        assert outbox.left() == []
    finally:
        outbox.close()
        server.stop()
    assert server.count == 1
    dropped = _said(lines, "dropped")
    assert len(dropped) == 1 and "ERROR" in dropped[0], lines
    assert "escalation alert for BTC/USDT:USDT" in dropped[0] and "25 h" in dropped[0], dropped


def test_a_full_outbox_drops_its_oldest_low_importance_alerts_first_in_one_line(lines):
    server = ScriptedHttp()
    server.script = [(503, {})]
    gate = threading.Event()
    alerts = Alerts(logger=logger, webhook=f"{server.url}/hook", timeout_s=5, hook_threads=1,
                    sleep=lambda s: gate.wait(30), max_queued=10)
    try:
        alerts.alert(BTC, "escalation", "first")  # its retry waits on the gate
        wait_until(lambda: server.answered == 1, timeout=10, message="the first refused")
        for i in range(8):
            alerts.alert(None, "strategy_failed", f"low {i}")
        for i in range(3):
            alerts.alert(BTC, "escalation", f"high {i}")
        gate.set()
        wait_until(lambda: server.answered == 11, timeout=20, message="what was kept delivered")
        alerts.wait(10)
    finally:
        gate.set()
        server.stop()
    kept = [body["message"] for body in server.bodies()[1:]]
    assert kept == ["first", "low 2", "low 3", "low 4", "low 5", "low 6", "low 7",
                    "high 0", "high 1", "high 2"], kept
    dropped = _said(lines, "dropped")
    assert len(dropped) == 1 and " 2 " in dropped[0] and "strategy_failed" in dropped[0], lines


def test_a_hook_done_is_not_run_again_at_the_next_start_while_the_other_was_kept(tmp_path,
                                                                                lines):
    got = tmp_path / "got"
    command = f"sh -c 'cat >> {got}; echo >> {got}'"
    server = ScriptedHttp(lambda path, body: (503, {}))
    url = f"{server.url}/hook"
    outbox = HookOutbox(tmp_path / FILE_NAME, "main", logger)
    alerts = Alerts(logger=logger, command=command, webhook=url, timeout_s=5, outbox=outbox)
    try:
        alerts.alert(BTC, "escalation", "closes failed")
        wait_until(lambda: _said(lines, "failing") and outbox.left()[0][2] == {"command"},
                   timeout=10, message="the command done, the webhook refused")
        alerts.wait(0.2)  # the bot stops: the webhook's retry is kept
        outbox.close()
        server.answer = lambda path, body: (200, {})
        outbox = HookOutbox(tmp_path / FILE_NAME, "main", logger)
        again = Alerts(logger=logger, command=command, webhook=url, timeout_s=5, outbox=outbox)
        again.resend_left()
        wait_until(lambda: server.answered == 2, timeout=10, message="the webhook's delivery")
        again.wait(10)
        assert outbox.left() == []
    finally:
        outbox.close()
        server.stop()
    ran = [line for line in got.read_text().splitlines() if line.strip()]
    assert len(ran) == 1, ran  # the command ran once, not again at the start


def test_an_outbox_an_earlier_version_wrote_is_read_with_its_alerts(tmp_path, lines):
    import sqlite3

    path = tmp_path / FILE_NAME
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE hooks (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, "
                "payload TEXT NOT NULL, queued_at REAL NOT NULL)")
    old.execute("INSERT INTO hooks (owner, payload, queued_at) VALUES ('main', ?, 1.5)",
                (json.dumps({"symbol": None, "kind": "kill_switch", "message": "on"}),))
    old.commit()
    old.close()
    outbox = HookOutbox(path, "main", logger)
    try:
        [(row, payload, done)] = outbox.left()
        outbox.mark_done(row, "command")
        assert outbox.left()[0][2] == {"command"} and done == set()
    finally:
        outbox.close()
    assert payload["kind"] == "kill_switch" and payload["queued_at"] == 1.5


def test_a_redirect_is_kept_like_a_401_and_delivered_once_the_url_is_fixed(tmp_path, lines):
    # found by review: a 3xx dropped the alert at once, while a moved webhook (http:// to
    # https://, a new path) is fixed by the user in alert_webhook like a rotated key (a 401)
    server = ScriptedHttp(lambda path, body: (301, {}) if path.startswith("/old") else (200, {}))
    outbox = HookOutbox(tmp_path / FILE_NAME, "main", logger)
    alerts = Alerts(logger=logger, webhook=f"{server.url}/old?key={KEY}", timeout_s=5,
                    outbox=outbox)
    try:
        alerts.alert(BTC, "unprotected", "stop coverage 0%")
        wait_until(lambda: server.answered == 1, timeout=10, message="the redirect")
        alerts.wait(0.2)  # the bot stops; the user sets the new address
        outbox.close()
        outbox = HookOutbox(tmp_path / FILE_NAME, "main", logger)
        again = Alerts(logger=logger, webhook=f"{server.url}/new?key={KEY}", timeout_s=5,
                       outbox=outbox)
        again.resend_left()
        wait_until(lambda: server.answered == 2, timeout=10, message="delivered at the start")
        again.wait(10)
        assert outbox.left() == []
    finally:
        outbox.close()
        server.stop()
    assert [path.split("?")[0] for path, _ in server.requests] == ["/old", "/new"]
    said = _said(lines, "failing")
    assert len(said) == 1 and "301" in said[0] and "redirect" in said[0], said
    assert not _said(lines, "dropped") and not _said(lines, KEY)


def test_a_full_outbox_keeps_older_escalations_and_the_alert_in_flight(lines):
    # found by the mutation audit: shedding by age alone (escalations before the noise) or
    # shedding the alert being tried passed the test above, whose low kinds were the oldest
    server = ScriptedHttp()
    server.script = [(503, {})]
    gate = threading.Event()
    alerts = Alerts(logger=logger, webhook=f"{server.url}/hook", timeout_s=5, hook_threads=1,
                    sleep=lambda s: gate.wait(30), max_queued=10)
    try:
        alerts.alert(None, "strategy_failed", "first")  # in flight: its retry waits
        wait_until(lambda: server.answered == 1, timeout=10, message="the first refused")
        for i in range(3):
            alerts.alert(BTC, "escalation", f"high {i}")
        for i in range(8):
            alerts.alert(None, "strategy_failed", f"low {i}")
        gate.set()
        wait_until(lambda: server.answered == 11, timeout=20, message="what was kept delivered")
        alerts.wait(10)
    finally:
        gate.set()
        server.stop()
    kept = [body["message"] for body in server.bodies()[1:]]
    assert kept == ["first", "high 0", "high 1", "high 2", "low 2", "low 3", "low 4", "low 5",
                    "low 6", "low 7"], kept


def test_a_command_not_found_is_kept_and_run_once_it_is_there(tmp_path, lines):
    # found by the mutation audit: dropping an alert whose command could not be run (not
    # found, not executable: a script being replaced) passed every test; it can pass
    program, got = tmp_path / "pager", tmp_path / "got"
    waiting, go = threading.Event(), threading.Event()

    def sleep(seconds: float) -> None:
        waiting.set()
        go.wait(30)

    alerts = Alerts(logger=logger, command=str(program), sleep=sleep)
    try:
        alerts.alert(None, "kill_switch", "no new entries")
        wait_until(waiting.is_set, timeout=10, message="the retry's wait")
        program.write_text(f"#!/bin/sh\ncat > {got}\n")
        program.chmod(0o755)
        go.set()
        wait_until(got.exists, timeout=20, message="the command run once it is there")
        alerts.wait(10)
    finally:
        go.set()
    assert json.loads(got.read_text())["kind"] == "kill_switch"
    failing = _said(lines, "failing")
    assert len(failing) == 1 and "could not run" in failing[0], lines
    assert not _said(lines, "dropped")


def test_each_process_resends_only_its_own_alerts(tmp_path, lines):
    # found by the mutation audit: reading every owner's rows at a start passed every test;
    # with --workers the parent and each account's worker share alert_hooks.db, and a start
    # would deliver another process's alert a second time (and take its row)
    path = tmp_path / FILE_NAME
    for owner in ("alpha", "beta"):
        earlier = HookOutbox(path, owner, logger)
        earlier.add({"symbol": BTC, "kind": "escalation", "message": f"{owner}'s"})
        earlier.close()
    server = ScriptedHttp()
    outbox = HookOutbox(path, "beta", logger)
    alerts = Alerts(logger=logger, webhook=f"{server.url}/hook", timeout_s=5, outbox=outbox)
    try:
        alerts.resend_left()
        wait_until(lambda: server.answered == 1, timeout=10, message="beta's alert")
        alerts.wait(10)
        assert outbox.left() == []
    finally:
        outbox.close()
        server.stop()
    assert [body["message"] for body in server.bodies()] == ["beta's"]
    alpha = HookOutbox(path, "alpha", logger)
    try:
        assert [payload["message"] for _, payload, _ in alpha.left()] == ["alpha's"]
    finally:
        alpha.close()
