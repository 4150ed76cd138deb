"""An escalation in a backtest runs the supervisor's emergency close, as the live bot does
(supervision/supervisor.py `_on_escalation`, runtime/emergency.py): found by review, it was
only counted, so the quarantined position stayed open until its stop filled or the data ended,
and the report's "escalation" exit row never appeared.

Market TEST/USDT:USDT opens at 100 (tick 0.01); no slippage, taker fee 0.055 %, stop 5 %.
Hourly flat candles 100, 100, 101, 101, 101, 102. A scripted long of 1 contract at the first
open; the strategy exits at the second candle's open, and the exchange refuses every close of
the core (client ids ending in "c"): after 2 attempts (the second a quarter candle later, the
backoff being 1 s) the symbol escalates, and the emergency close sells 1 at that point's price,
100, closing the position there.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from backtest import candles as C
from backtest import engine, report
from backtest.driver import MarketClock
from backtest.memory_repo import MemoryRepository
from backtest.sim_exchange import SimExchange
from backtest.trades import closed_trades
from config.loader import load_settings
from tests.backtest.test_metrics import FEE, HOUR, SYMBOL, T0, Script
from trading.commands import Escalate


class RefusesCloses:
    """The simulated exchange, refusing the core's close orders (client ids ending in "c")."""

    def __init__(self, ex: SimExchange) -> None:
        self.ex = ex
        self.refused = 0

    def create_order(self, symbol: str, type: str, side: str, amount: Decimal,
                     price: Decimal | None = None, params: dict[str, Any] | None = None) -> Any:
        if str((params or {}).get("clientOrderId", "")).endswith("c"):
            self.refused += 1
            raise RuntimeError("close refused by the test")
        return self.ex.create_order(symbol, type, side, amount, price, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ex, name)


def _run(tmp: Path, journal: Path | None = None) -> tuple[engine.RunResult, RefusesCloses]:
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{T0 + i * HOUR},{p},{p},{p},{p},10"
              for i, p in enumerate([100, 100, 101, 101, 101, 102])]
    (tmp / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp / "bot.toml").write_text(
        f'[symbols]\nlist = ["{SYMBOL}"]\n[paper]\nslippage_bps = 0\ntaker_fee = {FEE}\n'
        "[risk]\norder_size_usdt = 100\nstop_loss_pct = 5.0\ntrailing_activation_pct = 50\n"
        "[supervision]\nmax_close_attempts = 2\nclose_backoff_initial_s = 1.0\n")
    box: dict[str, RefusesCloses] = {}

    def port(ex: SimExchange) -> RefusesCloses:
        box["port"] = RefusesCloses(ex)
        return box["port"]

    result = engine.run(load_settings(tmp / "bot.toml"), {SYMBOL: C.load(tmp / "t.csv")},
                        strategy_for=lambda symbol: Script(T0 / 1000, (T0 + HOUR) / 1000),
                        port=port, journal=journal)
    return result, box["port"]


def test_an_escalation_runs_the_emergency_close_and_the_report_shows_it(tmp_path: Path) -> None:
    result, port = _run(tmp_path)
    assert port.refused == 2
    assert len(result.recorder.escalations) == 1
    requested = [j.data for _, _, j in result.recorder.journal
                 if j.type == "EmergencyCloseRequested"]
    assert [(r["side"], r["contracts"]) for r in requested] == [("long", "1")]
    assert requested[0]["order"].endswith("x")
    assert not [p for p in result.exchange.positions_of(SYMBOL) if p.qty]  # closed, not open
    (trade,) = closed_trades(result.recorder)
    assert trade.exit_kind == "escalation"
    assert trade.exit_price == Decimal(100)
    assert trade.net == -2 * FEE * 100  # entry and exit at 100, a taker fee each
    rep = report.build(result)
    assert list(rep["per_exit_reason"]) == ["escalation"]
    assert rep["summary"]["escalations"] == 1
    assert rep["summary"]["open_at_end"] == 0
    assert rep["trades"][0]["exit"] == "escalation"
    assert "escalation" in report.render(rep)


class RefusesStopsAndCloses(RefusesCloses):
    """Also refuses the stops (client ids ending in "s"), so a grid leg is closed by the bot."""

    def create_order(self, symbol: str, type: str, side: str, amount: Decimal,
                     price: Decimal | None = None, params: dict[str, Any] | None = None) -> Any:
        if str((params or {}).get("clientOrderId", "")).endswith("s"):
            raise RuntimeError("stop refused by the test")
        return super().create_order(symbol, type, side, amount, price, params)


def test_a_grid_escalation_closes_both_legs(tmp_path: Path) -> None:
    """The hedge grid (one level 1 % away, take-profit 0.5 %, stop 3 %) with no stop ever
    placed: the price falls through the long leg's stop (96), the bot's own closes of that leg
    are refused twice, the symbol escalates, and the emergency close closes both legs, as the
    live closer does (one order per leg)."""
    rows = [(100, 100, 100, 100)] * 2 + [(100, 100, 96, 96)] + [(96, 96, 96, 96)] * 3
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{T0 + i * HOUR},{o},{h},{lo},{c},10" for i, (o, h, lo, c) in enumerate(rows)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "bot.toml").write_text(
        f'[exchange]\nhedge_mode = true\n[symbols]\nlist = ["{SYMBOL}"]\n'
        '[strategy]\nname = "hedge_grid"\n[strategy.grid]\nlevels = 1\nstep_pct = 1\n'
        f"take_profit_pct = 0.5\nrecalc_pct = 2\n[paper]\nslippage_bps = 0\ntaker_fee = {FEE}\n"
        "[risk]\norder_size_usdt = 100\nstop_loss_pct = 3.0\n[supervision]\n"
        "max_close_attempts = 2\n")
    result = engine.run(load_settings(tmp_path / "bot.toml"),
                        {SYMBOL: C.load(tmp_path / "t.csv")}, port=RefusesStopsAndCloses)
    requested = [j.data["side"] for _, _, j in result.recorder.journal
                 if j.type == "EmergencyCloseRequested"]
    assert requested == ["long", "short"]
    rep = report.build(result)
    assert rep["per_exit_reason"]["escalation"]["trades"] == 2
    assert rep["summary"]["escalations"] == 1
    assert rep["summary"]["open_at_end"] == 0


def _three(tmp: Path, kill_switch_escalations: int) -> engine.RunResult:
    """AAA and BBB enter at the first open and exit at the second, every close refused: both
    escalate at 01:15. CCC's strategy enters at 03:00."""
    symbols = ["AAA/USDT:USDT", "BBB/USDT:USDT", "CCC/USDT:USDT"]
    candles = {}
    for i, symbol in enumerate(symbols):
        path = tmp / f"{i}.csv"
        path.write_text("timestamp,open,high,low,close,volume\n" + "".join(
            f"{T0 + h * HOUR},100,100,100,100,10\n" for h in range(6)))
        candles[symbol] = C.load(path)
    (tmp / "bot.toml").write_text(
        f"[symbols]\nlist = {symbols!r}\n".replace("'", '"')
        + f"[paper]\nslippage_bps = 0\ntaker_fee = {FEE}\n"
        "[risk]\norder_size_usdt = 100\nstop_loss_pct = 5.0\ntrailing_activation_pct = 50\n"
        "max_open_positions = 10\n[supervision]\nmax_close_attempts = 2\n"
        f"kill_switch_escalations = {kill_switch_escalations}\n")
    scripts = {symbols[0]: Script(T0 / 1000, (T0 + HOUR) / 1000),
               symbols[1]: Script(T0 / 1000, (T0 + HOUR) / 1000),
               symbols[2]: Script((T0 + 3 * HOUR) / 1000)}
    return engine.run(load_settings(tmp / "bot.toml"), candles,
                      strategy_for=lambda symbol: scripts[symbol], port=RefusesCloses)


def test_escalations_past_the_limit_trip_the_kill_switch(tmp_path: Path) -> None:
    """Two symbols escalating within kill_switch_window_s, over kill_switch_escalations = 1:
    the kill switch trips, as the supervisor's does, and CCC's later entry is refused."""
    result = _three(tmp_path, 1)
    assert result.recorder.kill_switch == ((T0 + HOUR + HOUR // 4) / 1000,
                                           "2 symbols escalated within 600s")
    opened = {sym for _, sym, j in result.recorder.journal if j.type == "PositionOpened"}
    assert opened == {"AAA/USDT:USDT", "BBB/USDT:USDT"}
    skipped = [j.data for _, sym, j in result.recorder.journal
               if sym == "CCC/USDT:USDT" and j.type == "SignalSkipped"]
    assert len(skipped) == 1 and "kill switch" in str(skipped[0])
    rep = report.build(result)
    assert rep["kill_switch"]["reason"] == "2 symbols escalated within 600s"
    assert "kill switch: tripped at" in report.render(rep)


def test_escalations_within_the_limit_leave_entries_open(tmp_path: Path) -> None:
    result = _three(tmp_path, 3)
    assert result.recorder.kill_switch is None
    opened = {sym for _, sym, j in result.recorder.journal if j.type == "PositionOpened"}
    assert "CCC/USDT:USDT" in opened
    assert "kill_switch" not in report.build(result)


class RefusesEveryClose(RefusesCloses):
    """Also refuses the emergency close (client ids ending in "x")."""

    def create_order(self, symbol: str, type: str, side: str, amount: Decimal,
                     price: Decimal | None = None, params: dict[str, Any] | None = None) -> Any:
        if str((params or {}).get("clientOrderId", "")).endswith("x"):
            raise RuntimeError("emergency close refused by the test")
        return super().create_order(symbol, type, side, amount, price, params)


def test_an_emergency_close_that_fails_is_reported_once_and_the_run_goes_on(
        tmp_path: Path) -> None:
    """As live (runtime/emergency.py): one EmergencyCloseFailed and one error line, no retry;
    the quarantined position keeps its stop and is still open at the end of the data."""
    box: dict[str, Any] = {}

    def port(ex: SimExchange) -> RefusesEveryClose:
        box["port"] = RefusesEveryClose(ex)
        return box["port"]

    (tmp_path / "t.csv").write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"{T0 + h * HOUR},100,100,100,100,10\n" for h in range(4)))
    (tmp_path / "bot.toml").write_text(
        f'[symbols]\nlist = ["{SYMBOL}"]\n[paper]\nslippage_bps = 0\n'
        "[risk]\norder_size_usdt = 100\nstop_loss_pct = 5.0\ntrailing_activation_pct = 50\n"
        "[supervision]\nmax_close_attempts = 2\n")
    result = engine.run(load_settings(tmp_path / "bot.toml"),
                        {SYMBOL: C.load(tmp_path / "t.csv")},
                        strategy_for=lambda symbol: Script(T0 / 1000, (T0 + HOUR) / 1000),
                        port=port)
    failed = [j.data["error"] for _, _, j in result.recorder.journal
              if j.type == "EmergencyCloseFailed"]
    assert failed == ["emergency close refused by the test"]
    assert [line for line in result.log.lines if "emergency close failed" in line] == [
        "emergency close failed: RuntimeError: emergency close refused by the test"]
    assert report.build(result)["summary"]["open_at_end"] == 1


def _escalate(repo: Any, clock: Any, at: float, symbol: str, close: bool = True) -> None:
    clock.now = at
    repo.escalated(symbol, Escalate(reason="close failed", attempts=2, last_error=None,
                                    close=close))


def test_the_kill_switch_counts_distinct_symbols_within_the_window_as_the_supervisor() -> None:
    """As supervision/escalation.py counts: distinct symbols, escalations at most
    kill_switch_window_s old (the bound included), tripped once at its first time. Found by
    mutation: counting every escalation, or every one ever, or re-stamping the trip, passed the
    backtest tests (a backtest would stop entering on every symbol for one symbol's trouble)."""
    clock = MarketClock(0.0)
    repo = MemoryRepository(clock, kill_switch=(1, 600.0))
    _escalate(repo, clock, 0.0, "AAA")
    _escalate(repo, clock, 300.0, "AAA")  # one symbol twice: one symbol
    assert repo.kill_switch is None
    _escalate(repo, clock, 901.0, "BBB")  # AAA's last was 601 s ago: outside the window
    assert repo.kill_switch is None
    _escalate(repo, clock, 1501.0, "CCC")  # BBB's was 600 s ago: inside (the bound counts)
    assert repo.kill_switch == (1501.0, "2 symbols escalated within 600s")
    _escalate(repo, clock, 1502.0, "DDD")
    assert repo.kill_switch == (1501.0, "2 symbols escalated within 600s")  # tripped once
    assert [s for _, s, _ in repo.escalations] == ["AAA", "AAA", "BBB", "CCC", "DDD"]


def test_an_alert_only_escalation_owes_no_emergency_close() -> None:
    """`Escalate(close=False)` (a persistent contradiction about a position that may still be
    open and protected) is counted, and no emergency close is owed, as the supervisor runs none
    (trading/commands.py). Found by mutation: owing a close for every escalation passed the
    backtest tests, and would close a protected position the bot keeps."""
    clock = MarketClock(0.0)
    repo = MemoryRepository(clock)
    _escalate(repo, clock, 10.0, "AAA", close=False)
    assert repo.owed == []
    assert repo.escalations == [(10.0, "AAA", "close failed")]
    _escalate(repo, clock, 20.0, "BBB")
    assert repo.owed == [("BBB", "close failed")]


def test_journal_holds_the_emergency_close_rows_the_report_shows(tmp_path: Path) -> None:
    """`--journal` writes the journal the bot writes: the emergency close's rows, journaled
    outside a decision (`MemoryRepository.record`), reach the database too. Found by mutation:
    not forwarding `record` passed every test; the database then showed an escalated position
    closed with no word of the close that did it."""
    from storage import queries
    from storage.repository import Repository

    db = tmp_path / "journal.sqlite"
    result, _ = _run(tmp_path, journal=db)
    kept = [(at, j.data) for at, _, j in result.recorder.journal
            if j.type == "EmergencyCloseRequested"]
    assert len(kept) == 1
    repo = Repository(db)
    try:
        rows = repo.read(queries.events, None, "EmergencyCloseRequested")
    finally:
        repo.close()
    assert [(r["symbol"], r["data"]["order"], r["data"]["side"]) for r in rows] == [
        (SYMBOL, kept[0][1]["order"], "long")]
