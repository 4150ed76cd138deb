"""Issue 16 items 14 and 16 on the signal endpoint: size cap without a configured one, deeply
nested JSON answered with a 400 and journaled, and a flood of rejections costing a few rows and
lines instead of one fsync'd row and one WARNING per request (the production wiring, real HTTP)."""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from signals.http_server import SignalHttpServer
from signals.limits import DEFAULT_MAX_SIZE_USDT
from signals.reject_throttle import RejectionThrottle
from signals.wiring import REJECT_RECORD_INTERVAL_S, SignalsConfig, build_signal_services
from tests.signals.support import TOKEN, FakeDeliver, FakeJournal, make_router, post

BTC = "BTC/USDT:USDT"


def serve(**router_kwargs):
    router, journal, deliver = make_router(**router_kwargs)
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    return server, journal, deliver


def test_size_above_the_default_cap_is_refused_without_a_configured_cap():
    server, journal, deliver = serve()
    try:
        status, reply = post(server.url, {"id": "big1", "symbol": BTC, "side": "long",
                                          "size_usdt": 1e12})
        assert status == 422 and "above the default cap" in reply["reason"]
        assert str(DEFAULT_MAX_SIZE_USDT) in reply["reason"]
        assert deliver.calls == [] and len(journal.of("SignalRejected")) == 1
        ok = {"id": "ok1", "symbol": BTC, "side": "long", "size_usdt": 250}
        assert post(server.url, ok)[0] == 202
        assert deliver.calls[0][1].size_usdt == Decimal(250)
    finally:
        assert server.stop(timeout_s=5)


def test_configured_cap_still_wins():
    server, journal, deliver = serve(max_size_usdt=Decimal(500))
    try:
        status, reply = post(server.url, {"id": "c1", "symbol": BTC, "side": "long",
                                          "size_usdt": 501})
        assert status == 422 and "signals.max_size_usdt 500" in reply["reason"]
    finally:
        assert server.stop(timeout_s=5)


def test_30k_deep_json_gets_a_400_and_a_journal_row():
    server, journal, deliver = serve()
    depth = 30_000
    body = ("[" * depth + "]" * depth).encode()
    try:
        status, reply = post(server.url, body)
        assert status == 400 and reply["reason"] == "malformed JSON: nested too deeply"
        rows = journal.of("SignalRejected")
        assert len(rows) == 1 and rows[0][2]["reason"] == "malformed JSON: nested too deeply"
        assert deliver.calls == []
    finally:
        assert server.stop(timeout_s=5)


def test_a_flood_of_rejections_costs_one_row_and_line_per_interval():
    journal, deliver = FakeJournal(), FakeDeliver()
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m), level="WARNING", format="{message}")
    services = build_signal_services(
        SignalsConfig(enabled=True, port=0), symbols=[BTC], deliver=deliver, journal=journal,
        seen=journal.seen, open_positions=lambda: 0, max_open_positions=5, logger=logger,
        environ={"BOT_SIGNAL_TOKEN": TOKEN})
    assert services.http is not None
    services.start()
    flood = 300
    try:
        import time

        started = time.monotonic()
        for i in range(flood):
            status, reply = post(services.http.url, {"id": f"f{i}", "symbol": "NOPE/USDT:USDT",
                                                      "side": "long"})
            assert status == 422 and "unknown symbol" in reply["reason"]  # each is answered
        elapsed = time.monotonic() - started
    finally:
        assert services.stop(timeout_s=5)
        logger.remove(sink)
    rows = journal.of("SignalRejected")
    intervals = int(elapsed / REJECT_RECORD_INTERVAL_S) + 1
    # One full row per interval plus one summary per interval (the last one written by stop()).
    assert len(rows) <= 2 * intervals + 1 < flood
    summarised = sum(r[2].get("suppressed", 0) for r in rows)
    full = [r for r in rows if "suppressed" not in r[2]]
    assert len(full) + summarised == flood  # every rejection is accounted for
    assert any("unknown symbol" in reason for r in rows for reason in r[2].get("reasons", {}))
    assert len(lines) == len(rows)
    assert services.router.counts["rejected"] == flood


def test_throttle_records_the_first_of_each_interval_and_sums_the_rest():
    throttle = RejectionThrottle(1.0)
    assert throttle.admit("a", 10.0) == (True, None)
    assert throttle.admit("a", 10.5)[0] is False
    assert throttle.admit("b", 10.9)[0] is False
    record, held = throttle.admit("a", 11.0)
    assert record and held is not None and held.count == 2 and held.reasons == {"a": 1, "b": 1}
    assert throttle.flush() is None
    assert throttle.admit("c", 11.2)[0] is False
    assert throttle.flush(11.9) is None  # a timer within the interval: the next record carries it
    due = throttle.flush(12.0)
    assert due is not None and due.count == 1 and throttle.flush(12.5) is None


def test_a_flood_without_a_token_costs_a_line_per_second_not_per_request():
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m), level="WARNING", format="{message}")
    server, journal, deliver = serve()
    try:
        import time

        started = time.monotonic()
        for i in range(200):
            assert post(server.url, {"id": f"u{i}", "symbol": BTC, "side": "long"},
                        token="wrong")[0] == 401
        elapsed = time.monotonic() - started
    finally:
        assert server.stop(timeout_s=5)
        logger.remove(sink)
    noted = [line for line in lines if "without a valid token" in line]
    assert 1 <= len(noted) <= 2 * (int(elapsed) + 1) < 200
    assert journal.entries == [] and deliver.calls == []


def test_a_floods_summary_is_recorded_while_the_receiver_runs():
    """Found by review: the rejections held back were summarised only with the next recorded
    rejection or at stop; after a flood that ended, the journal and the log showed one
    rejection for hours (and never the rest after a kill -9). They are now recorded within
    about a second, with the receiver still running."""
    from tests.support.waiting import wait_until

    journal, deliver = FakeJournal(), FakeDeliver()
    services = build_signal_services(
        SignalsConfig(enabled=True, port=0), symbols=[BTC], deliver=deliver, journal=journal,
        seen=journal.seen, open_positions=lambda: 0, max_open_positions=5, logger=logger,
        environ={"BOT_SIGNAL_TOKEN": TOKEN})
    assert services.http is not None
    services.start()
    flood = 20
    try:
        for i in range(flood):
            status, _ = post(services.http.url, {"id": f"g{i}", "symbol": "NOPE/USDT:USDT",
                                                 "side": "long"})
            assert status == 422

        def accounted() -> int:
            rows = journal.of("SignalRejected")
            return sum(r[2].get("suppressed", 1) for r in rows)

        wait_until(lambda: accounted() == flood, timeout=10,
                   message="every rejection of the flood in the journal")
        rows = journal.of("SignalRejected")
        assert len(rows) < flood and any("suppressed" in r[2] for r in rows)
    finally:
        assert services.stop(timeout_s=5)


def test_the_count_of_a_burst_without_a_token_is_logged_while_the_server_runs():
    """Found by review: requests without a valid token past the first of each second were
    counted, and the count was logged only when another such request came (not even at stop):
    a burst of wrong tokens showed as one line. It is now logged once its second is over."""
    from tests.support.waiting import wait_until

    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")
    server, journal, deliver = serve()
    burst = 20
    try:
        for i in range(burst):
            assert post(server.url, {"id": f"w{i}", "symbol": BTC, "side": "long"},
                        token="wrong")[0] == 401

        def counted() -> int:
            full = sum("request from" in line and "without a valid token" in line
                       for line in lines)
            more = sum(int(line.split()[2]) for line in lines
                       if "more requests without a valid token" in line)
            return full + more

        wait_until(lambda: counted() == burst, timeout=10,
                   message="every request of the burst in the log")
        assert len(lines) < burst
    finally:
        assert server.stop(timeout_s=5)
        logger.remove(sink)


def test_an_exit_is_never_refused_for_its_size():
    """Found by review: an exit carrying a size_usdt above the cap (a sender's fixed template)
    was refused with 422 and the position stayed open; an exit closes the whole position, its
    size is not used, so it is not capped."""
    server, journal, deliver = serve(max_size_usdt=Decimal(500))
    try:
        status, reply = post(server.url, {"id": "x1", "symbol": BTC, "side": "exit",
                                          "size_usdt": 10_000})
        assert status == 202, reply
        assert deliver.calls and deliver.calls[0][1].side is None
    finally:
        assert server.stop(timeout_s=5)
