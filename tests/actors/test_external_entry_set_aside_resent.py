"""An external signal's entry set aside by our own rate budget for an order report is sent
again ~2 s later and protected with a stop; not once its signal expired (the give-up
journaled, naming the signal). A real SymbolActor (pykka thread, SQLite) with the one-way
core, through the real ccxt gateway against the Bybit emulator on 127.0.0.1; the venue says
no weight is left (the gateway's IP bucket held at zero, `no_weight_left`) so the entry's
leverage set waits for budget, and an order report arriving meanwhile sets the entry aside
(actors/command_executor.py `_not_sent`, `Preempted`; `OrderFailed(set_aside=True)`).

Found by live one-way chaos (bybit seed 4961): 13 external entries answered 202 and journaled
`SignalHandled` were set aside and never sent nor retried (signal live-bybit-265 -> entry
main-ad9e-ETH-59e)."""

from __future__ import annotations

import time

from actors.messages import ExternalSignal, OrderActivity, Timer
from tests.actors.test_leverage_before_entry import CREATE, Rig, rig
from tests.actors.test_reconcile_set_aside import no_weight_left
from tests.support.waiting import wait_until
from trading.model import Side


def _set_aside(r: Rig, sid: str, expires_in: float, *, hold: bool = False) -> None:
    """The signal is handled, its entry waits for budget and is set aside for an order report
    (`hold`: once the signal expired while its entry waits; an entry waits for budget at most
    2 s, then its create is refused, not set aside)."""
    r.sync()  # its start's reconciliation is done: it has a price
    with no_weight_left(r) as ip:
        waited = ip.waited_s
        expires_at = time.time() + expires_in
        hold_until = expires_at + 0.05 if hold else 0.0
        r.ref.tell(ExternalSignal(side=Side.LONG, signal_id=sid, reason="external",
                                  expires_at=expires_at))
        wait_until(lambda: ip.waited_s > waited, message="the entry waits for budget")
        wait_until(lambda: time.time() > hold_until, timeout=30, message="hold_until")
        r.ref.tell(OrderActivity(client_order_ids=("someone-elses",)))  # a report
        wait_until(lambda: r.journal("OrderFailed"), message="the entry set aside")
        r.sync()
    (failed,) = r.journal("OrderFailed")
    assert "an order report is waiting" in failed["data"]["error"], failed
    assert [e for e in r.journal("SignalHandled") if e["data"]["signal_id"] == sid]
    assert CREATE["bybit"] not in r.paths()  # nothing reached the venue


def _timers_until(r: Rig, condition, message: str, timeout: float = 20.0):  # noqa: ANN001
    """The supervisor's heartbeat, until `condition` holds (with a deadline)."""
    def tick():  # noqa: ANN202
        r.ref.tell(Timer())
        r.sync()
        return condition()
    return wait_until(tick, timeout=timeout, interval=0.1, message=message)


def test_a_set_aside_external_entry_is_sent_again_and_protected(tmp_path):
    with rig(tmp_path, "bybit", 5, wall_time=True) as r:
        _set_aside(r, "sig-aside", 60.0)
        _timers_until(r, lambda: r.view().protected,
                      "the set-aside entry sent again and protected with a stop")
        assert r.paths().count(CREATE["bybit"]) >= 2  # the entry and its stop
        assert r.book.position("BTCUSDT")[0] != 0
        requested = r.journal("EntryRequested")
        (again,) = [e for e in requested if "sig-aside" in e["data"]["reason"]]
        (first,) = [e for e in requested if e is not again]
        assert first["data"]["order"] != again["data"]["order"]  # a new intent, a new id


def test_an_expired_signal_is_not_sent_again_and_the_give_up_is_journaled(tmp_path):
    with rig(tmp_path, "bybit", 5, wall_time=True) as r:
        _set_aside(r, "sig-late", 1.2, hold=True)

        def given_up():  # noqa: ANN202
            return [e for e in r.journal("SignalSkipped")
                    if e["data"].get("signal_id") == "sig-late"]

        (skip,) = _timers_until(r, given_up, "the give-up journaled")
        assert "expired" in skip["data"]["reason"] and "sig-late" in skip["data"]["reason"]
        for _ in range(5):  # later heartbeats send nothing either
            r.ref.tell(Timer())
        r.sync()
        assert CREATE["bybit"] not in r.paths()
        assert r.book.position("BTCUSDT")[0] == 0
        assert len(r.journal("EntryRequested")) == 1
