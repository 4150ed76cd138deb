"""SilentSymbols on an injected clock: which symbols the price stream has stopped carrying,
when they count as silent, and how their REST prices are asked for."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from exchange.ccxt.silent_symbols import SINGLE_CALLS_UP_TO, SilentSymbols
from exchange.records import VenueTicker


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, fmt: str, *args: Any) -> None:
        self.lines.append(fmt.format(*args))

    info = warning


def ticker(symbol: str) -> VenueTicker:
    return VenueTicker(symbol=symbol, last=Decimal("1"), quote_volume=None, timestamp=None)


def make(symbols: list[str]) -> tuple[SilentSymbols, Clock, Lines]:
    clock, log = Clock(), Lines()
    return SilentSymbols(symbols, silent_s=60, logger=log, monotonic=clock), clock, log


def test_a_symbol_is_silent_only_after_silent_s_without_a_price_and_is_logged_once():
    silent, clock, log = make(["A", "B"])
    clock.t += 59
    silent.streamed("A", clock.t)
    assert silent.silent() == []
    clock.t += 1
    assert silent.silent() == ["B"]
    assert silent.silent() == ["B"]
    assert len([x for x in log.lines if "no price for B" in x]) == 1
    silent.streamed("B", clock.t)
    assert silent.silent() == [] and silent.status()["silent_symbols"] == 0
    assert any("B has prices again" in x for x in log.lines)
    silent.streamed("unknown", clock.t)  # a symbol we do not trade is ignored
    assert "unknown" not in silent.status()["silent"]


def test_a_reconnect_gives_every_symbol_silent_s_but_a_silent_one_stays_on_rest():
    silent, clock, _ = make(["A", "B", "C"])
    silent.unstreamed(["B"])
    assert silent.silent() == ["B"]
    clock.t += 100
    silent.streamed("C", clock.t)
    assert silent.silent() == ["A", "B"]
    clock.t += 30
    silent.restart()
    # A (silent 130 s: a dead topic or a quiet market) and B (refused) stay on REST until the
    # stream carries them; before, A went another silent_s without any price
    assert silent.silent() == ["A", "B"]
    silent.streamed("A", clock.t)
    assert silent.silent() == ["B"]
    clock.t += 59  # C's last price was 89 s ago, but the reconnect gave it silent_s
    assert silent.silent() == ["B"]
    clock.t += 1  # 60 s after the reconnect: C, and A since its one streamed price
    assert silent.silent() == ["A", "B", "C"]


def test_few_silent_symbols_are_asked_one_by_one_and_one_failure_spares_the_rest():
    silent, clock, log = make([f"S{i}" for i in range(50)])
    asked: list[list[str]] = []

    def fetch(symbols: list[str]) -> dict[str, VenueTicker]:
        asked.append(list(symbols))
        if symbols == ["S1"]:
            raise RuntimeError("timed out")
        return {s: ticker(s) for s in symbols}

    got = silent.fetch(fetch, ["S0", "S1", "S2"])
    assert asked == [["S0"], ["S1"], ["S2"]] and sorted(got) == ["S0", "S2"]
    assert any("REST price of silent S1 failed: timed out" in x for x in log.lines)
    silent.fetch(fetch, ["S1"])  # failing again at once: no second line
    assert len([x for x in log.lines if "silent S1 failed" in x]) == 1
    clock.t += 60
    silent.fetch(fetch, ["S1"])
    assert len([x for x in log.lines if "silent S1 failed" in x]) == 2
    many = [f"S{i}" for i in range(SINGLE_CALLS_UP_TO + 1)]
    asked.clear()
    got = silent.fetch(fetch, many)
    assert asked == [many] and sorted(got) == sorted(many)  # one all-symbol call
    assert silent.polled == 2 + len(many)  # S1 never answered


@pytest.mark.parametrize("n", [0, 1])
def test_no_silent_symbol_no_call(n):
    silent, _, _ = make(["A"])
    calls = []
    assert silent.fetch(lambda s: calls.append(s) or {}, ["A"][:n]) == {}
    assert len(calls) == n


def test_a_refused_symbol_is_polled_at_the_rest_pace_a_merely_silent_one_every_10_s():
    silent, clock, _ = make(["A", "B"])
    silent.unstreamed(["B"])
    assert silent.due(2.0) == ["B"]
    clock.t += 2
    assert silent.due(2.0) == ["B"]
    clock.t += 58
    assert silent.due(2.0) == ["A", "B"]
    clock.t += 2
    assert silent.due(2.0) == ["B"]  # A (merely silent) waits 60 / 6 = 10 s
    clock.t += 8
    assert silent.due(2.0) == ["A", "B"]


def test_a_thin_market_going_quiet_every_minute_logs_once_an_hour_not_twice_a_minute():
    silent, clock, log = make(["A"])
    for _ in range(30):  # an hour: 60 s without a trade, then one, over and over
        clock.t += 61
        assert silent.silent() == ["A"]  # still priced from REST each time
        silent.streamed("A", clock.t)
        clock.t += 60
    assert len([x for x in log.lines if "no price for A" in x]) == 1
    assert len([x for x in log.lines if "A has prices again" in x]) == 1
    clock.t += 61
    assert silent.silent() == ["A"]
    assert len([x for x in log.lines if "no price for A" in x]) == 2  # an hour on: said again


def test_a_rest_outage_of_a_few_silent_symbols_is_said_once_not_per_symbol_each_minute():
    """A REST outage with a few silent symbols (one call each): every symbol's call failed and
    each symbol had its line once a minute (40 silent symbols: 40 lines a minute for as long as
    REST was down). A round where nothing answered is the outage, said once, with a reminder
    every 5 minutes and one line when REST answers again; one symbol failing among answering
    ones is still said by name."""
    silent, clock, log = make(["A", "B", "C"])
    failing = [True]

    def fetch(symbols: list[str]) -> dict[str, VenueTicker]:
        if failing[0]:
            raise RuntimeError("503 Service Unavailable")
        return {s: ticker(s) for s in symbols}

    for _ in range(30):  # 10 minutes of rounds, every 20 s
        assert silent.fetch(fetch, ["A", "B", "C"]) == {}
        clock.t += 20
    failures = [x for x in log.lines if "503" in x]
    assert len(failures) == 2, failures  # the outage, and one reminder after 5 minutes
    failing[0] = False
    assert sorted(silent.fetch(fetch, ["A", "B", "C"])) == ["A", "B", "C"]
    assert log.lines[-1] == ("stream: silent symbols' REST price polls answer again "
                             "(30 failed over 600 s)")
