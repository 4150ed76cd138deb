"""The router on its own: validation, dedup, expiry, limits, journal (fakes injected)."""

from __future__ import annotations

from decimal import Decimal

from signals.backoff import Backoff
from signals.limits import OpenPositionGate, WaveLimiter
from tests.signals.support import Clock, FakeDeliver, FakeJournal, Positions, make_router
from trading.model import Side

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"


def sig(sid: str = "s1", **over):
    return {"id": sid, "symbol": BTC, "side": "long", **over}


def test_valid_signal_is_journaled_once_and_delivered():
    router, journal, deliver = make_router()
    out = router.handle(sig(size_usdt=50, stop="90.5", take_profit=120), "test")
    assert (out.status, out.http_status) == ("accepted", 202)
    [(symbol, signal)] = deliver.calls
    assert symbol == BTC and signal.side is Side.LONG and signal.signal_id == "s1"
    assert signal.size_usdt == Decimal(50)
    [(jsym, _, data, cid)] = journal.of("SignalAccepted")
    assert (jsym, cid) == (BTC, "s1")
    assert data["stop"] == "90.5" and data["take_profit"] == "120"
    assert data["levels_applied"] is False


def test_duplicate_in_memory_and_through_seen_after_restart():
    journal = FakeJournal()
    router, _, deliver = make_router(journal=journal)
    assert router.handle(sig("dup"), "test").status == "accepted"
    again = router.handle(sig("dup"), "test")
    assert (again.status, again.http_status) == ("duplicate", 200)
    restarted, _, deliver2 = make_router(journal=journal)  # fresh memory, same journal
    assert restarted.handle(sig("dup"), "test").status == "duplicate"
    assert len(deliver.calls) == 1 and deliver2.calls == []
    assert len(journal.of("SignalAccepted")) == 1
    assert len(journal.of("SignalDuplicate")) == 2


def test_rejections_name_their_reason_and_are_journaled():
    clock = Clock()
    router, journal, deliver = make_router(clock=clock)
    cases = {
        "a": (sig("a", side="sideways"), 400, "side"),
        "b": (sig("b", symbol="NOPE/USDT:USDT"), 422, "unknown symbol"),
        "c": (sig("c", expires_at=clock.now - 1), 409, "expired"),
        "d": (sig("d", size_usdt=-5), 400, "size_usdt"),
        "e": (sig("e", stop=110, take_profit=100), 400, "below take_profit"),
        "f": (sig("f", side="exit", stop=100), 400, "only allowed"),
        "g": (sig("g", expires_at=clock.now * 1000), 400, "milliseconds"),
        "h": (sig("h", size_usdt="abc"), 400, "size_usdt"),
    }
    for sid, (body, status, words) in cases.items():
        out = router.handle(body, "test")
        assert (out.status, out.http_status) == ("rejected", status), (sid, out)
        assert words in out.reason, (sid, out.reason)
    rejected = {cid: data for _, _, data, cid in journal.of("SignalRejected")}
    assert set(rejected) == set(cases)
    assert all(data["reason"] for data in rejected.values())
    assert deliver.calls == []
    # a rejected id is judged again (it claimed nothing): corrected, it is accepted
    assert router.handle(sig("c", expires_at=clock.now + 60), "test").status == "accepted"


def test_malformed_payloads_never_raise():
    router, journal, _ = make_router()
    for raw in (b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"', b'{"id": 5}',
                b'{"id": "x", "side": NaN}',
                b'{"id": "", "symbol": "BTC/USDT:USDT", "side": "long"}'):
        out = router.handle_raw(raw, "test")
        assert (out.status, out.http_status) == ("rejected", 400), raw
    assert len(journal.of("SignalRejected")) == 7


def test_not_yet_expired_and_exit_signals_pass():
    clock = Clock()
    router, _, deliver = make_router(clock=clock)
    assert router.handle(sig("x1", expires_at=clock.now + 5), "test").status == "accepted"
    assert router.handle(sig("x2", side="EXIT"), "test").status == "accepted"
    assert deliver.calls[1][1].side is None


def test_wave_limit_is_a_sliding_window_and_spares_exits():
    mono = Clock(100.0)
    router, journal, deliver = make_router(wave=WaveLimiter(2, 2.0), monotonic=mono)
    sides = ["long", "short", "long"]
    symbols = [BTC, BTC, ETH]
    assert [router.handle(sig(f"w{i}", symbol=symbols[i], side=sides[i]), "t").status
            for i in range(3)] == ["accepted", "accepted", "rejected"]
    assert "wave limit" in journal.of("SignalRejected")[0][2]["reason"]
    # a repeat of an entry already counted in the window takes no second place (found by
    # review: repeats on one symbol used up the wave of every other symbol)
    assert router.handle(sig("w-again", side="short"), "t").status == "accepted"
    assert router.handle(sig("w-exit", side="exit"), "t").status == "accepted"
    mono.now += 2.0
    assert router.handle(sig("w4"), "t").status == "accepted"


def test_open_position_gate_counts_entries_not_yet_open():
    mono, open_now = Clock(0.0), Positions(1)
    gate = OpenPositionGate(3, open_now, reserve_s=10.0)
    router, journal, _ = make_router(positions=gate, monotonic=mono)
    assert router.handle(sig("p1"), "t").status == "accepted"
    # repeats of one entry reserve one slot, not one each (found by review: five BTC longs
    # reserved five slots, one position opened, and ETH was refused at the cap)
    assert [router.handle(sig(f"p1-{i}"), "t").status for i in range(3)] == ["accepted"] * 3
    assert gate.count(mono.now) == 2
    assert router.handle(sig("p2", symbol=ETH), "t").status == "accepted"
    out = router.handle(sig("p3", side="short"), "t")
    assert (out.status, out.http_status) == ("rejected", 409) and "max open positions" in out.reason
    # at the cap, a repeat of an entry whose slot is reserved is still accepted: it takes no
    # second slot (mutation audit: without that check the sender's retry was answered 409)
    assert router.handle(sig("p2-again", symbol=ETH), "t").status == "accepted"
    assert gate.count(mono.now) == 3
    open_now.n = 3  # the two entries opened: not counted twice
    assert gate.count(mono.now) == 3
    mono.now += 10.0
    open_now.n = 2  # reservations expired, one position closed
    assert router.handle(sig("p4"), "t").status == "accepted"


def test_actor_not_running_is_reported_as_skipped():
    router, _, _ = make_router(deliver=FakeDeliver(result=False))
    out = router.handle(sig("z"), "t")
    assert (out.status, out.http_status) == ("skipped", 409)


def test_internal_error_answers_500_and_frees_the_id():
    calls = []

    def flaky(symbol, signal):
        calls.append(signal.signal_id)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return True

    router, _, _ = make_router(deliver=flaky)
    out = router.handle(sig("e1"), "t")
    assert (out.status, out.http_status) == ("error", 500)
    # its SignalAccepted reached the journal, which `seen` consults: now a duplicate
    assert router.handle(sig("e1"), "t").status == "duplicate"


def test_backoff_is_exponential_jittered_and_bounded():
    b = Backoff(initial_s=0.5, max_s=4.0, jitter=0.5, rand=lambda: 1.0)
    assert [b.next_delay() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    full = Backoff(initial_s=0.5, max_s=4.0, jitter=0.5, rand=lambda: 0.0)
    assert [full.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    full.reset()
    assert full.next_delay() == 0.5
