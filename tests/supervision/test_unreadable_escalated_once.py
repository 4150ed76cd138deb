"""A symbol whose persisted state cannot be read is quarantined and escalated (incident 7). Every
bot restart added another escalation row and alert for the same unreadable symbol, so the
status's escalations[] filled with duplicates (found by review). An escalation an earlier run
raised and nobody resolved is not raised again; a new one (another error) is.

Real pykka actors, the real supervisor, real SQLite and the paper exchange (tests/support)."""

from __future__ import annotations

import sqlite3

import pykka
import pytest

from storage import queries
from storage.repository import Repository
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    pykka.ActorRegistry.stop_all()


def _damage(tmp_path, text: str) -> None:  # noqa: ANN001
    con = sqlite3.connect(tmp_path / "bot.sqlite")
    con.execute("UPDATE events SET data=? WHERE correlation_id='s1'", (text,))
    con.commit()
    con.close()


def _run(tmp_path, clock=None) -> tuple[list[dict], list[dict]]:  # noqa: ANN001
    """Start the bot, wait for it to settle, stop it: (open escalations, alerts sent)."""
    h = Harness(tmp_path, [BTC, ETH], clock=clock)
    beats = [0]
    h.sup.on_heartbeat = lambda: beats.__setitem__(0, beats[0] + 1)  # set before the start
    h.start()
    try:
        assert h.child(ETH).state.value == "quarantined"
        assert h.child(BTC).state.value == "running"
        # the supervisor marks ETH quarantined, then raises its escalation and alert
        # (_quarantine_unreadable, _on_escalation): a heartbeat begun after the state is seen
        # runs on the same thread after them
        seen = beats[0]
        wait_until(lambda: beats[0] > seen, message="the supervisor's next heartbeat")
        assert h.sup.records.wait_stored(ETH, timeout_s=60)
        alerts = [a for a in h.alerts.sent if a["symbol"] == ETH]
        return h.repo.read(queries.open_escalations), alerts
    finally:
        h.stop()


def test_an_unreadable_symbol_is_escalated_once_across_restarts(tmp_path) -> None:  # noqa: ANN001
    h = Harness(tmp_path, [BTC, ETH]).start()
    h.stop()
    repo = Repository(tmp_path / "bot.sqlite")
    repo.record(ETH, "SignalReceived", {"signal_id": "s1", "side": "long"}, correlation_id="s1")
    repo.close()
    _damage(tmp_path, '{"signal_id": "s1", garbage')
    first, alerted = _run(tmp_path, h.clock)
    assert len(first) == 1 and len(alerted) == 1
    for _ in range(2):  # restarts: the same row still cannot be read
        again, alerted = _run(tmp_path, h.clock)
        assert [e["symbol"] for e in again] == [ETH], again
        assert alerted == [], "the same escalation alerted again"
    _damage(tmp_path, "[1, 2]")  # another problem: a new escalation
    again, alerted = _run(tmp_path, h.clock)
    assert len(again) == 2 and len(alerted) == 1
