"""Liveness and fencing with real actors, the real supervisor and the real ccxt gateway against
the Bybit emulator (real HTTP on 127.0.0.1):

- a venue that says "too many" until a reset several heartbeat timeouts away causes zero
  restarts: the actor waits in the budget, marked busy, and the supervisor honours it (the
  same run without the busy board restarts the actor: the test can fail);
- an actor replaced while it sleeps in a retry backoff never sends that retry: the emulator's
  request log has the one refused create and nothing after it.
"""

from __future__ import annotations

import dataclasses
import random
import time
from decimal import Decimal

import pytest

from actors.messages import Reconcile
from exchange.ccxt.gateway import CcxtGateway
from exchange.ccxt.secrets import Credentials
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, factory_for, start_emulator
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"
TOO_MANY = {"retCode": 10006, "retMsg": "Too many visits!", "result": {}, "retExtInfo": {}}


def gateway(emu, tmp_path, **kwargs) -> CcxtGateway:  # noqa: ANN001
    return CcxtGateway(factory_for("bybit", emu), markets_cache=tmp_path / "markets.json",
                       credentials=Credentials(API_KEY, API_SECRET, source="test"),
                       symbols=[BTC], rng=random.Random(3), timeout_ms=2000, **kwargs)


def harness(tmp_path, gw: CcxtGateway, *, busy: bool) -> Harness:  # noqa: ANN001
    h = Harness(tmp_path, [BTC], wrap=lambda paper: gw, heartbeat_interval_s=0.05,
                heartbeat_timeout_s=0.5)
    h.deps = dataclasses.replace(h.deps, fences=h.sup.fences,
                                 busy=h.sup.busy if busy else None)
    return h


def rate_limited_reconcile(emu, h: Harness, seconds: float) -> int:  # noqa: ANN001
    """The venue refuses the position list with a reset `seconds` away; returns how many
    position-list requests had gone out before, once the list was asked again after it."""
    before = len(emu.hits("/v5/position/list"))
    reset_ms = int((time.time() + seconds) * 1000)
    emu.fail_next("/v5/position/list", body=TOO_MANY,
                  headers={"X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "10",
                           "X-Bapi-Limit-Reset-Timestamp": str(reset_ms)})
    assert h.sup.tell(BTC, Reconcile(reason="test"))
    wait_until(lambda: len(emu.hits("/v5/position/list")) >= before + 2, timeout=seconds + 10,
               message="the position list asked again after the reset")
    return before


@pytest.mark.parametrize("busy", [True, False])
def test_rate_limiting_past_the_heartbeat_causes_no_restart(tmp_path, busy):
    emu = start_emulator("bybit")
    h = harness(tmp_path, gateway(emu, tmp_path), busy=busy)
    try:
        h.start()
        before = rate_limited_reconcile(emu, h, seconds=3.0)  # 6 heartbeat timeouts
        if busy:
            h.idle(BTC)  # the reconciliation has ended: no request of it is still to come
            assert h.child(BTC).restarts == 0
            assert h.sup.busy_waits > 0  # heartbeats were missed, and forgiven
            # the refusal, then, after the venue's reset, the snapshot's reads before and after
            # its other reads (actors/exchange_snapshot.py `consistent`); nothing in between.
            # Counted once the reconciliation ended: counted when the second request was seen,
            # the third (a few ms later) raced the count
            assert len(emu.hits("/v5/position/list")) - before == 3
        else:  # the control: the same wait without the busy mark is taken for a hang
            wait_until(lambda: h.child(BTC).restarts >= 1, message="a restart")
    finally:
        h.stop()
        emu.stop()


def test_a_replaced_actor_never_sends_its_retry(tmp_path):
    emu = start_emulator("bybit")
    # a long retry backoff and no busy board: the heartbeat replaces the sleeping actor
    gw = gateway(emu, tmp_path, backoff_base_s=2.0, backoff_max_s=2.0)
    h = harness(tmp_path, gw, busy=False)
    try:
        h.start()
        old = h.child(BTC).ref
        emu.fail_next("/v5/order/create", body=TOO_MANY)
        assert h.tick(BTC, Decimal("50000"))
        assert h.signal(BTC, Side.LONG)
        wait_until(lambda: len(emu.hits("/v5/order/create")) == 1, message="the first create")
        wait_until(lambda: h.child(BTC).restarts >= 1 and h.child(BTC).ref is not old,
                   message="the actor replaced while in its backoff")
        # the old thread wakes from its backoff, meets its revoked fence and ends
        wait_until(lambda: old.actor_stopped.is_set(), timeout=15,
                   message="the replaced actor's thread ended")
        creates = emu.hits("/v5/order/create")
        assert len(creates) == 1, [c.params.get("orderLinkId") for c in creates]
        wait_until(lambda: h.child(BTC).state.value == "running", message="new actor running")
        h.idle(BTC)
        assert len(emu.hits("/v5/order/create")) == 1
    finally:
        h.stop()
        emu.stop()
