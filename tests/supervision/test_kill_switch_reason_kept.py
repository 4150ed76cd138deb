"""The kill switch keeps its reason and time, stored with it (found by review: the dump showed
only `kill_switch: true`; a person could not tell why entries stopped or since when, and a
restart kept the switch but nothing about it). Real actors, paper exchange, SQLite."""

from __future__ import annotations

import time
from pathlib import Path

from notifications.status_text import status_text
from supervision.records import KILL_SWITCH_WHY
from supervision.status import build_status, combine_status
from supervision.status_view import render
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


def _dump(h: Harness) -> dict:
    st = build_status(h.sup, {"running": True}, time.time(), [])
    return combine_status({"running": True}, {"main": {**st, "exchange": "paper"}}, time.time(),
                          grouped=False)


def test_the_dump_shows_why_and_since_when_and_a_restart_keeps_them(tmp_path: Path):
    h = Harness(tmp_path, [BTC]).start()
    try:
        before = time.time()
        h.sup.trip_kill_switch("tripped by dashboard")
        dump = _dump(h)
        assert dump["kill_switch"] is True
        assert dump["kill_switch_reason"] == "tripped by dashboard"
        assert before <= dump["kill_switch_at"] <= time.time()
        assert dump["accounts"]["main"]["kill_switch_reason"] == "tripped by dashboard"
        assert "kill_switch ON (since " in render(dump) and "tripped by dashboard" in render(dump)
        # Telegram's /status reply names it too
        assert "KILL SWITCH (tripped by dashboard)" in status_text(dump)
        at = dump["kill_switch_at"]
        wait_until(lambda: h.sup.records.pending() == 0, message="the kill switch stored")
    finally:
        h.stop()
    h = Harness(tmp_path, [BTC]).start()
    try:
        dump = _dump(h)
        assert dump["kill_switch"] is True
        assert (dump["kill_switch_reason"], dump["kill_switch_at"]) == ("tripped by dashboard", at)
        h.sup.reset_kill_switch(by="test")
        dump = _dump(h)
        assert dump["kill_switch"] is False and "kill_switch_reason" not in dump
    finally:
        h.stop()
    h = Harness(tmp_path, [BTC]).start()
    try:
        assert not h.sup.kill_switch and "kill_switch_reason" not in _dump(h)
    finally:
        h.stop()


def test_a_switch_stored_without_a_reason_stays_on_and_says_so(tmp_path: Path):
    """Tripped by an older version (no reason kept) or a hand-edited reason: still on, said."""
    h = Harness(tmp_path, [BTC])
    h.repo.set_meta("kill_switch", "1")
    h.repo.close()
    h.paper.close()
    h = Harness(tmp_path, [BTC]).start()
    try:
        dump = _dump(h)
        assert dump["kill_switch"] is True and dump["kill_switch_at"] is None
        assert dump["kill_switch_reason"] == "not recorded (tripped by an older version)"
        h.repo.set_meta(KILL_SWITCH_WHY, "{not json")
    finally:
        h.stop()
    h = Harness(tmp_path, [BTC]).start()
    try:
        assert h.sup.kill_switch
        assert _dump(h)["kill_switch_reason"].startswith("unreadable: ")
    finally:
        h.stop()
