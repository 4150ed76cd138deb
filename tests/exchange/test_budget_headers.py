"""The venue's usage headers are believed, but a garbage one must neither stall the budget (a
protective call waiting for ever) nor free it. The real meter on real buckets, a fake clock
whose sleep advances it: waits are counted, not timed."""

from __future__ import annotations

import pytest
from loguru import logger

from exchange.budget import Priority, call_priority
from exchange.budget_meter import RequestMeter
from exchange.budget_venues import BINANCE_USDM, BYBIT, BudgetRegistry, limits_for
from tests.exchange.ccxt.ccxt_fixtures import FakeTime


def meter(fake: FakeTime, limits=BINANCE_USDM) -> RequestMeter:  # noqa: ANN001
    venue = BudgetRegistry().venue(limits, "", 0.5, clock=fake.clock, sleep=fake.sleep)
    return RequestMeter(venue, venue.account("key-x"), timeout_s=10, wall_clock=fake.clock)


def protective_wait(m: RequestMeter, api: object, method: str, path: str) -> float:
    with call_priority(Priority.PROTECTIVE):
        return m.before(api, method, path, 1)


@pytest.mark.parametrize("used", ["99999999999", "1e15"])
def test_binance_absurd_used_weight_blocks_at_most_until_the_minute_turns(used):
    """A used weight far beyond the limit: the minute is spent (nothing until it turns), but
    it left a debt of that size in the bucket, so a stop waited for years after it."""
    fake = FakeTime(start=1_700_000_020.0)  # 20 s before the minute turns
    m = meter(fake)
    m.after(["fapiPublic"], "ticker/price", {"X-MBX-USED-WEIGHT-1M": used}, False)
    assert protective_wait(m, ["fapiPrivate"], "DELETE", "order") <= 20.0 + 1.0


def test_bybit_negative_limit_status_does_not_stall_the_endpoint():
    """`X-Bapi-Limit-Status: -1000000` (no endpoint has that few left): the endpoint waits
    its rolling second, not a million seconds."""
    fake = FakeTime()
    m = meter(fake, BYBIT)
    m.after(["private"], "v5/order/cancel", {"X-Bapi-Limit-Status": "-1000000"}, False)
    assert protective_wait(m, ["private"], "POST", "v5/order/cancel") <= 2.0


@pytest.mark.parametrize("reset", ["micro", "far"])
def test_bybit_reset_timestamp_far_off_does_not_block_for_ever(reset, request):
    """A 10006 whose `X-Bapi-Limit-Reset-Timestamp` is no millisecond stamp near now (in
    microseconds; a year ahead: garbage, or a wall clock far behind) blocked that endpoint,
    its stop and cancel calls included, for that long. Bybit's UID limits turn every second:
    the block is bounded (a minute at most) and the odd header said in one line."""
    fake = FakeTime()
    m = meter(fake, BYBIT)
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    request.addfinalizer(lambda: logger.remove(sink))
    stamp = fake.now * 1e6 if reset == "micro" else (fake.now + 365 * 86400) * 1000
    refused = m.after(["private"], "v5/order/cancel",
                      {"X-Bapi-Limit-Status": "0", "X-Bapi-Limit-Reset-Timestamp": f"{stamp:.0f}"},
                      True, error='bybit {"retCode":10006,"retMsg":"Too many visits!"}')
    assert refused
    assert protective_wait(m, ["private"], "POST", "v5/order/cancel") <= 60.0 + 1.0
    said = [line for line in lines if "X-Bapi-Limit-Reset-Timestamp" in line]
    assert len(said) == 1 and f"{stamp:.0f}" in said[0] and "\n" not in said[0].strip()


@pytest.mark.parametrize("limits", [BINANCE_USDM, limits_for("okx", 100)], ids=["binance", "other"])
@pytest.mark.parametrize("retry", ["-30", "0"])
def test_a_429_whose_retry_after_is_not_positive_still_blocks(limits, retry):
    """A 429 with `Retry-After: -30` (or 0) blocked for nothing: the next calls went out at
    once into the same refusal (repeated 429s are an IP ban). It now counts as a refusal
    naming no reset: the default block."""
    from exchange.budget_meter import DEFAULT_BLOCK_S

    fake = FakeTime()
    m = meter(fake, limits)
    m.after(["public"], "ticker", {"Retry-After": retry}, True, error="429 Too Many Requests")
    assert protective_wait(m, ["public"], "GET", "ticker") >= DEFAULT_BLOCK_S


def test_a_retry_after_beyond_any_ban_is_believed_for_the_longest_ban(request):
    """'Retry-After: 1000000000' (garbage: Binance's longest IP ban is 3 days) blocked every
    call to the venue, stops and closes included, for 31 years in memory (the block file
    already kept only 3 days). Now 3 days at most, said in one line."""
    from exchange.venue_blocks import MAX_BLOCK_S

    fake = FakeTime()
    m = meter(fake)
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    request.addfinalizer(lambda: logger.remove(sink))
    m.after(["fapiPublic"], "ticker/24hr", {"Retry-After": "1000000000"}, True, error="418")
    assert protective_wait(m, ["fapiPrivate"], "DELETE", "order") <= MAX_BLOCK_S + 1.0
    said = [line for line in lines if "Retry-After" in line]
    assert len(said) == 1 and "1000000000" in said[0]


TURN = 1_700_000_040.0
"""A turn of the venue's minute (and of its 10 s order window) on the fake clock."""


def test_a_spent_minute_answered_after_it_turned_does_not_block_the_new_one():
    """Binance counts weight per fixed minute. A request sent in the minute's last moment and
    answered just after it turned carries that minute's count: at the limit, the whole new
    minute was blocked (a stop's cancel waited 59.9 s) although the spent one had ended."""
    fake = FakeTime(start=TURN - 0.05)
    m = meter(fake)
    with call_priority(Priority.RECONCILE):
        m.before(["fapiPublic"], "GET", "ticker/price", 1)
    fake.sleep(0.1)  # the answer comes in the next minute
    m.after(["fapiPublic"], "ticker/price", {"X-MBX-USED-WEIGHT-1M": "2400"}, False)
    assert protective_wait(m, ["fapiPrivate"], "DELETE", "order") < 1.0


def test_a_spent_minute_answered_inside_it_still_blocks_until_it_turns():
    fake = FakeTime(start=TURN - 5.0)
    m = meter(fake)
    with call_priority(Priority.RECONCILE):
        m.before(["fapiPublic"], "GET", "ticker/price", 1)
    fake.sleep(0.1)
    m.after(["fapiPublic"], "ticker/price", {"X-MBX-USED-WEIGHT-1M": "2400"}, False)
    assert protective_wait(m, ["fapiPrivate"], "DELETE", "order") == pytest.approx(4.9)


def test_a_spent_order_window_answered_after_it_turned_does_not_block_the_next_one():
    """The same for the account's 10 s order window: a close answered just after the window
    turned, with the spent window's count, held every order (closes too) for 10 s more."""
    fake = FakeTime(start=TURN - 0.05)
    m = meter(fake)
    close = (["fapiPrivate"], "POST", "order")
    protective_wait(m, *close)
    fake.sleep(0.1)
    m.after(["fapiPrivate"], "order", {"X-MBX-ORDER-COUNT-10S": "300"}, False)
    assert protective_wait(m, *close) < 1.0


def test_a_minute_spent_to_exactly_its_margin_still_blocks_until_it_turns():
    """A count that leaves exactly nothing beyond the margin kept for requests in flight
    (2,340 of 2,400) spends the minute as one past it does. Found by a mutation audit: blocking
    only below nothing (`remaining < 0`) passed every test; the local refill then let calls
    out into the margin before the minute turned."""
    fake = FakeTime(start=TURN - 5.0)
    m = meter(fake)
    with call_priority(Priority.RECONCILE):
        m.before(["fapiPublic"], "GET", "ticker/price", 1)
    fake.sleep(0.1)
    m.after(["fapiPublic"], "ticker/price", {"X-MBX-USED-WEIGHT-1M": "2340"}, False)
    assert protective_wait(m, ["fapiPrivate"], "DELETE", "order") == pytest.approx(4.9)


def test_a_spent_minutes_count_answered_after_it_turned_leaves_the_new_minute_whole():
    """The count of a minute gone says nothing of the new one: not even the local estimate
    is cut to it. Found by a mutation audit: believing that count (dropping the
    `minute_left > 0` check) passed every test, since a stop waits only its own cost; the
    new minute's reconciliations and polls then waited for a refill the venue never asked."""
    fake = FakeTime(start=TURN - 0.05)
    m = meter(fake)
    with call_priority(Priority.RECONCILE):
        m.before(["fapiPublic"], "GET", "ticker/price", 1)
    fake.sleep(0.1)  # the answer comes in the next minute
    m.after(["fapiPublic"], "ticker/price", {"X-MBX-USED-WEIGHT-1M": "2400"}, False)
    with call_priority(Priority.POLLING):
        assert m.before(["fapiPublic"], "GET", "ticker/price", 1) == 0.0


def test_bybit_one_request_left_is_kept_for_the_window_edge():
    """`X-Bapi-Limit-Status: 1`: the last request of the endpoint's rolling second is kept
    for the window's edge (an answer's count is already old when read; a 10006 blocks every
    call until the venue's reset): even a cancel waits for its refill. Found by a mutation
    audit: believing the whole count (`cap_remaining(left)`) passed every test."""
    fake = FakeTime()
    m = meter(fake, BYBIT)
    m.after(["private"], "v5/order/cancel", {"X-Bapi-Limit-Status": "1"}, False)
    assert protective_wait(m, ["private"], "POST", "v5/order/cancel") > 0.0


def test_a_bybit_http_403_bans_the_ip_whatever_its_text():
    """Bybit's IP ban is an HTTP 403: the status alone says so (a proxy or ccxt may carry
    another text). Found by a mutation audit: judging by the text alone (dropping
    `status == 403`) passed every test; a 403 worded otherwise went on sending into the
    ban, which the venue lengthens."""
    fake = FakeTime()
    m = meter(fake, BYBIT)
    assert m.after(["public"], "v5/market/tickers", {}, False, status=403, error="Forbidden")
    assert protective_wait(m, ["private"], "POST", "v5/order/cancel") >= 600.0 - 1.0
