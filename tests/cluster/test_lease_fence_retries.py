"""A cluster node's lease fences each request and retry inside the gateway, not only each port
call: the account's fence board checks the lease after the incarnation (exchange/fence.py),
and the gateway checks the fence before every attempt and after every sleep (proven for the
incarnation by tests/supervision/test_exchange_liveness.py)."""

from __future__ import annotations

import pytest

from cluster.fenced_port import lease_guard
from cluster.lease import LeaseLost
from exchange.fence import CallScope, FenceBoard, Fenced, call_scope, check_fence
from tests.cluster.test_fenced_amend import Keeper


def test_each_check_inside_a_call_asks_the_lease_after_the_incarnation() -> None:
    keeper = Keeper()
    board = FenceBoard()
    board.account_check = lambda: lease_guard(keeper)  # type: ignore[arg-type]
    fence = board.issue("BTC/USDT:USDT")
    with call_scope(CallScope(fence=fence)):
        check_fence()  # lease held, incarnation current: the attempt goes out
        keeper.acting = None  # lease lost between two retries of one call
        with pytest.raises(LeaseLost):
            check_fence()
        board.issue("BTC/USDT:USDT")  # and a replaced incarnation is refused first
        with pytest.raises(Fenced):
            check_fence()


def test_a_board_without_an_account_check_fences_the_incarnation_only() -> None:
    board = FenceBoard()
    fence = board.issue("ETH/USDT:USDT")
    fence.check()
    board.revoke("ETH/USDT:USDT")
    with pytest.raises(Fenced):
        fence.check()
