"""An emergency close obeys the account's lease like every actor call (found by review, real
cluster processes: a close refused with Bybit's rate limit while the node held the account was
sent again 3.5 s after another node had taken it over, and could have closed the new owner's
position). The closer runs under the account's fence (exchange/fence.py `AccountFence`, the
board's `account_check`: a cluster node's lease), so the gateway checks it before each retry;
a close stopped that way stays owed for the account's next owner. The real ccxt bybit class
against the Bybit emulator, a real SQLite repository."""

from __future__ import annotations

import random
from decimal import Decimal as D

from loguru import logger

from cluster.lease import LeaseLost
from exchange.ccxt.gateway import CcxtGateway
from exchange.ccxt.secrets import Credentials
from exchange.fence import AccountFence, FenceBoard
from runtime.emergency import OWED, EmergencyCloser
from storage.repository import Repository
from tests.exchange.ccxt.ccxt_fixtures import (
    API_KEY,
    API_SECRET,
    FakeTime,
    factory_for,
    start_emulator,
)

BTC = "BTC/USDT:USDT"


def test_a_close_waiting_to_retry_sends_nothing_once_the_lease_is_lost(tmp_path):
    fake = FakeTime()
    emu = start_emulator("bybit")
    board = FenceBoard()
    lost: list[bool] = []
    creates_before = [10**9]  # set once the position is open

    def lease() -> None:  # the node's lease guard: lost once the first close attempt went out
        if lost:
            raise LeaseLost("acct0", 2, "node-a")

    def sleep(seconds: float) -> None:  # the lease runs out while the close waits to retry
        fake.sleep(seconds)
        if len(emu.hits("/v5/order/create")) > creates_before[0]:
            lost.append(True)

    board.account_check = lease
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    try:
        gw = CcxtGateway(factory_for("bybit", emu), markets_cache=tmp_path / "m.json",
                         credentials=Credentials(API_KEY, API_SECRET, source="test"),
                         clock=fake.clock, monotonic=fake.clock, sleep=sleep,
                         rng=random.Random(7), symbols=[BTC])
        gw.load_markets()
        gw.create_order(BTC, "market", "buy", D("0.01"), None, {"clientOrderId": "open-1"})
        before = creates_before[0] = len(emu.hits("/v5/order/create"))
        emu.fail_next("/v5/order/create", status=429, body={"retCode": 10006,
                                                            "retMsg": "Too many visits!"})
        closer = EmergencyCloser(exchange=gw, repo=repo, prefix="acct0-t1-e2-", logger=logger,
                                 fence=AccountFence(board))
        closer.close(BTC, "close failed 3 times")
        closer.wait()
        assert len(emu.hits("/v5/order/create")) == before + 1  # the refused try, no retry
        assert repo.get_meta(OWED + BTC) == "close failed 3 times"  # left to the next owner
        assert closer.running() == []
        assert any(p.contracts > 0 for p in gw.fetch_positions([BTC]))  # untouched by node A
    finally:
        repo.close()
        emu.stop()
