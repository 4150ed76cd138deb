"""A wave of signals over real HTTP into a whole bot (paper exchange, SQLite journal,
supervisor, one actor per symbol): every signal ends opened and protected on the exchange, or
rejected with a journaled reason."""

from __future__ import annotations

import threading
from typing import Any

from loguru import logger

from signals.http_server import SignalHttpServer
from signals.limits import OpenPositionGate, WaveLimiter
from signals.router import SignalRouter
from signals.wiring import open_positions_from_views, repository_journal
from storage import queries
from tests.signals.support import TOKEN, post
from tests.support.harness import Harness
from tests.support.waiting import wait_until


def journal_seen(signal_id: str) -> bool:
    """What the proposed storage query answers (here through the existing `queries.events`)."""
    return any(e["correlation_id"] == signal_id
               for t in ("SignalReceived", "SignalRejected") for e in queries.events(type_=t))


def receiver(h: Harness, *, max_per_wave: int, max_open: int) -> SignalHttpServer:
    router = SignalRouter(symbols=h.symbols, deliver=h.sup.deliver_signal,
                          journal=repository_journal(h.repo), seen=journal_seen, logger=logger,
                          clock=h.clock,  # the actors' clock: signals.max_age_s is judged on it
                          wave=WaveLimiter(max_per_wave, 2.0),
                          positions=OpenPositionGate(max_open, open_positions_from_views(h.views),
                                                     30.0))
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0)
    server.start()
    return server


def send_wave(url: str, bodies: list[dict[str, Any]]) -> dict[str, tuple[int, dict]]:
    replies: dict[str, tuple[int, dict]] = {}
    barrier = threading.Barrier(len(bodies))

    def send(body: dict[str, Any]) -> None:
        barrier.wait(timeout=10)
        replies[body["id"]] = post(url, body, timeout=30)

    threads = [threading.Thread(target=send, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(replies) == len(bodies)
    return replies


def outcome(h: Harness, symbol: str, signal_id: str) -> str | None:
    """"open" (position + reduce-only exchange stop + actor view protected), "rejected" (a
    journaled reason), or None while still undecided."""
    pos, stops, view = h.exchange_position(symbol), h.exchange_stops(symbol), h.view(symbol)
    if (pos is not None and stops and all(o.reduce_only for o in stops) and view is not None
            and view.protected):
        return "open"
    for type_ in ("SignalRejected", "SignalSkipped"):
        if any(e["data"].get("signal_id") == signal_id and e["data"].get("reason")
               for e in queries.events(symbol=symbol, type_=type_)):
            return "rejected"
    return None


def wave(n: int) -> list[dict[str, Any]]:
    return [{"id": f"wave-{i}", "symbol": f"SYM{i}/USDT:USDT", "side": "long" if i % 2 else "short",
             "size_usdt": 50} for i in range(n)]


def test_wave_of_50_signals_each_opened_and_protected_or_rejected(tmp_path):
    symbols = [f"SYM{i}/USDT:USDT" for i in range(50)]
    h = Harness(tmp_path, symbols).start()
    server = receiver(h, max_per_wave=100, max_open=100)
    try:
        h.poll()  # every actor has a price
        bodies = wave(50)
        replies = send_wave(server.url, bodies)
        assert all(status in (202, 409, 422, 429) for status, _ in replies.values()), replies
        results = {b["id"]: wait_until(lambda b=b: outcome(h, b["symbol"], b["id"]), timeout=30,
                                       message=f"{b['id']} opened or rejected") for b in bodies}
        assert list(results.values()).count("open") == 50, results  # limits were generous
        for b in bodies:  # journaled once each
            received = [e for e in queries.events(b["symbol"], "SignalReceived")
                        if e["data"]["signal_id"] == b["id"]]
            assert len(received) == 1
        # a restarted receiver (empty memory) still knows the ids from the journal
        again = receiver(h, max_per_wave=100, max_open=100)
        try:
            assert post(again.url, bodies[7])[1]["status"] == "duplicate"
        finally:
            assert again.stop(timeout_s=5)
        assert len(queries.events(bodies[7]["symbol"], "SignalDuplicate")) == 1
        assert len(queries.events(bodies[7]["symbol"], "SignalReceived")) == 1
    finally:
        assert server.stop(timeout_s=5)
        h.stop()


def test_wave_past_max_open_positions_rejects_the_rest_with_a_reason(tmp_path):
    symbols = [f"SYM{i}/USDT:USDT" for i in range(20)]
    h = Harness(tmp_path, symbols).start()
    server = receiver(h, max_per_wave=100, max_open=8)
    try:
        h.poll()
        bodies = wave(20)
        replies = send_wave(server.url, bodies)
        codes = sorted(status for status, _ in replies.values())
        assert codes == [202] * 8 + [409] * 12
        results = {b["id"]: wait_until(lambda b=b: outcome(h, b["symbol"], b["id"]), timeout=30,
                                       message=f"{b['id']} settled") for b in bodies}
        assert list(results.values()).count("open") == 8
        reasons = [e["data"]["reason"] for e in queries.events(type_="SignalRejected")]
        assert len(reasons) == 12 and all("max open positions" in r for r in reasons)
        assert sum(1 for s in symbols if h.exchange_position(s) is not None) == 8
    finally:
        assert server.stop(timeout_s=5)
        h.stop()
