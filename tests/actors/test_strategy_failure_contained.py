"""A strategy that raises is contained in its symbol (actors/strategy_guard.py).

Before, an exception from `Strategy.on_price` crashed the actor: a strategy failing on one
price fails on the next, so the actor crash-looped (nothing trailed the stop while it backed
off) until the supervisor escalated and the emergency close sold the position at market.

Real pykka actors, the real supervisor, real SQLite and the paper exchange (tests/support)."""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from actors.strategy_guard import RETRY_FIRST_S, StrategyOff
from storage import queries
from supervision.status import build_status
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"
POISON = Decimal("12345.6")


class Fragile:
    """Says nothing; raises on one price (a bug meeting odd data)."""

    name = "fragile"
    made = 0

    def __init__(self) -> None:
        Fragile.made += 1
        self.calls = 0

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        self.calls += 1
        if price == POISON:
            return 1 / 0
        return None


def _kinds(h: Harness) -> list[str]:
    return [a["kind"] for a in h.alerts.sent]


def test_a_raising_strategy_leaves_the_actor_running_and_the_position_protected(tmp_path) -> None:  # noqa: ANN001
    Fragile.made = 0
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: Fragile())
    h.start()
    try:
        child = h.child(BTC)
        incarnation = child.incarnation
        assert h.signal(BTC, Side.LONG)
        wait_until(lambda: h.view(BTC) is not None and h.view(BTC).protected,
                   message="the entry opened and its stop placed")

        h.tick(BTC, POISON)
        h.idle(BTC)
        wait_until(lambda: child.strategy_off is not None, message="the supervisor was told")
        # the supervisor sets strategy_off first and alerts after (Supervisor._strategy_report)
        wait_until(lambda: "strategy_failed" in _kinds(h), message="the failure alerted")
        assert child.incarnation == incarnation and child.restarts == 0, "the actor crashed"
        assert child.state.value == "running"
        assert "ZeroDivisionError" in child.strategy_off and "test_strategy_failure" in \
            child.strategy_off, child.strategy_off  # the error and the file it came from
        assert h.view(BTC).protected and h.exchange_stops(BTC), "the stop must stay"
        assert _kinds(h).count("strategy_failed") == 1
        failed = h.repo.read(queries.events, BTC, "StrategyFailed")
        assert len(failed) == 1 and failed[0]["data"]["strategy"] == "fragile"
        assert failed[0]["data"]["retry_in_s"] == RETRY_FIRST_S
        status = build_status(h.sup, {}, h.clock(), [])
        (entry,) = status["actors"]
        assert entry["strategy_off"] == child.strategy_off

        # off: the strategy is not asked, nothing more is journaled or alerted
        h.tick(BTC, POISON)
        h.idle(BTC)
        assert len(h.repo.read(queries.events, BTC, "StrategyFailed")) == 1
        assert _kinds(h).count("strategy_failed") == 1

        # the actor still manages the position: a person's exit signal closes it
        assert h.signal(BTC, None)
        wait_until(lambda: h.view(BTC).position is None, message="the position closed")
        assert h.exchange_position(BTC) is None

        # after the wait a fresh strategy runs again; the status clears
        made = Fragile.made
        h.clock.advance(RETRY_FIRST_S + 1)
        h.tick(BTC, Decimal("30000.1"))
        h.idle(BTC)
        assert Fragile.made == made + 1, "a fresh strategy instance is tried"
        wait_until(lambda: child.strategy_off is None, message="the status cleared")
        renewed = h.repo.read(queries.events, BTC, "StrategyRenewed")
        assert len(renewed) == 1 and renewed[0]["data"]["failures_in_a_row"] == 1
        assert child.restarts == 0 and child.incarnation == incarnation
    finally:
        h.stop()


def test_the_same_bug_on_every_symbol_is_one_alert_not_one_per_symbol(tmp_path) -> None:  # noqa: ANN001
    """Found by review: a strategy bug meets every symbol at once, and each raised its own
    strategy_failed alert (supervision/strategy_alerts.py holds the rest of the window)."""
    symbols = [BTC, "ETH/USDT:USDT", "SOL/USDT:USDT"]
    h = Harness(tmp_path, symbols, strategy_for=lambda s: Fragile())
    h.start()
    try:
        for s in symbols:
            h.tick(s, POISON)
        for s in symbols:
            h.idle(s)
        wait_until(lambda: all(h.child(s).strategy_off for s in symbols),
                   message="every symbol's strategy off")
        assert _kinds(h).count("strategy_failed") == 1
        assert all(h.child(s).restarts == 0 for s in symbols)
    finally:
        h.stop()


def test_the_failure_is_one_error_line_in_the_symbols_log_not_one_per_price(tmp_path) -> None:  # noqa: ANN001
    """README (Supervision): "one ERROR line in the symbol's log names the strategy, the price
    and the error with its file and line". Mutation audit (helper strat): with the guard's log
    line removed (actors/signal_intake.py `strategy_failed`), no test failed: the journal, the
    status and the alert were checked, the log a person reads first was not. And the strategy
    stays off until its renewal: later prices log nothing more."""
    errors: list[tuple[str, object]] = []
    sink = logger.add(lambda m: errors.append((m.record["message"], m.record["extra"].get(
        "symbol"))), level="ERROR")
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: Fragile())
    h.start()
    try:
        for _ in range(3):
            h.tick(BTC, POISON)
            h.idle(BTC)
        wait_until(lambda: h.child(BTC).strategy_off is not None, message="the strategy off")
    finally:
        h.stop()
        logger.remove(sink)
    # (the alert's own ERROR line, "ALERT strategy_failed: ...", is the supervisor's, once)
    failed = [(text, symbol) for text, symbol in errors
              if text.startswith("strategy fragile failed")]
    assert len(failed) == 1, errors
    text, symbol = failed[0]
    assert symbol == BTC
    line = Fragile.on_price.__code__.co_firstlineno + 3  # its `return 1 / 0`
    assert f"on price {POISON}" in text and "ZeroDivisionError" in text, text
    assert f"test_strategy_failure_contained.py:{line}" in text, text


def test_only_the_first_failure_of_a_streak_is_reported_as_the_one_that_alerts(tmp_path) -> None:  # noqa: ANN001
    """README (Supervision): "the first failure of a streak raises a strategy_failed alert".
    The actor tells the supervisor each failure as `StrategyOff`, `first` marking the one that
    alerts (supervision/supervisor.py `_strategy_report`). Mutation audit (helper strat): with
    every failure reported as the first (actors/symbol_actor.py `first=True`), no test failed;
    a strategy failing at each renewal (60 s, 120 s, ... up to hourly) would then alert again
    every time the account's 10-minute alert window has passed: the same broken strategy
    paging a person every hour, for ever, instead of once."""
    reports: list[tuple[str, BaseException | None]] = []

    def spy(symbol: str, incarnation: int, what: str, error: BaseException | None) -> None:
        reports.append((what, error))
        h.sup.report(symbol, incarnation, what, error)

    h = Harness(tmp_path, [BTC], strategy_for=lambda s: Fragile())
    h.supervise_with(h.sup, report=spy)
    h.start()
    try:
        child = h.child(BTC)
        h.tick(BTC, POISON)
        h.idle(BTC)
        h.clock.advance(RETRY_FIRST_S + 1)
        h.tick(BTC, POISON)  # a fresh instance is tried, and fails on the same price
        h.idle(BTC)
        wait_until(lambda: child.strategy_off is not None
                   and "(2 failures in a row)" in child.strategy_off,
                   message="the second failure of the streak reached the supervisor")
        failed = [error for what, error in reports if what == "strategy_failed"]
        assert [isinstance(e, StrategyOff) and e.first for e in failed] == [True, False], failed
        assert [what for what, _ in reports if what.startswith("strategy_")] == [
            "strategy_failed", "strategy_renewed", "strategy_failed"]
        assert _kinds(h).count("strategy_failed") == 1
    finally:
        h.stop()
