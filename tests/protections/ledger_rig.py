"""A real SQLite repository whose ledger rows a test writes as the commit path leaves them
(or damaged, as a torn or hand-edited row would be), and an account guard over it built the way
protections.wiring builds one, with a recording logger and a supervisor without actors."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from protections.guard import AccountGuard, build_checks
from storage.repository import Repository

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
T0 = 1_796_083_200.0 + 3600  # 2026-12-01T01:00:00Z
BASE = D(10000)


class RecordingLog:
    """The guard's logger: what it said, by level."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, message: str, *args: Any) -> None:
        self.errors.append(message.format(*args))

    def warning(self, message: str, *args: Any) -> None:
        pass

    info = debug = warning


def protections(**overrides: Any) -> SimpleNamespace:
    """A `[protections]` section: everything off unless given."""
    values: dict[str, Any] = dict(
        daily_loss_limit_usdt=None, daily_loss_limit_pct=None, max_drawdown_usdt=None,
        max_drawdown_pct=None, stoploss_guard_count=0, stoploss_guard_window_s=3600.0,
        stoploss_guard_pause_s=3600.0)
    return SimpleNamespace(**{**values, **overrides})


class DownAtFirst:
    """The account's repository, its reads failing until `up` (the database gone a moment)."""

    def __init__(self, repo: Repository) -> None:
        self.repo, self.up = repo, False

    def read(self, query: Any, *args: Any) -> Any:
        if not self.up:
            raise OSError("database unreachable")
        return self.repo.read(query, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.repo, name)


def daily_limit_guard(repo: Any, logger: Any) -> AccountGuard:
    """The account's guard over `repo` at T0 with `daily_loss_limit_usdt = 50`, as the bot
    builds it, logging to `logger` (the real one: its lines are what a person reads)."""
    return AccountGuard(repo=repo, sup=SimpleNamespace(children={}, kill_switch=False),
                        checks=build_checks(protections(daily_loss_limit_usdt=D(50)), BASE),
                        base=BASE, alert=lambda *a, **k: None, logger=logger,
                        clock=lambda: T0)


class Ledger:
    def __init__(self, tmp: Path) -> None:
        self.path = tmp / "bot.sqlite"
        self.repo = Repository(self.path, synchronous="normal")
        self.log = RecordingLog()

    def close(self) -> None:
        self.repo.close()

    def guard(self, cfg: SimpleNamespace, now: float) -> AccountGuard:
        """The account's guard as the bot builds it (a second one = after a restart)."""
        return AccountGuard(repo=self.repo, sup=SimpleNamespace(children={}, kill_switch=False),
                            checks=build_checks(cfg, BASE), base=BASE,
                            alert=lambda *a, **k: None, logger=self.log, clock=lambda: now)

    def replayed_guard(self, now: float) -> tuple[AccountGuard, list[str]]:
        """The guard with the default protections after its first pass (the replay), and the
        list its notices (trades, daily summaries) are collected in from then on."""
        guard = self.guard(protections(), now)
        notices: list[str] = []
        guard.on_trade = notices.append
        guard.tick(now)
        return guard, notices

    def closed(self, pid: str, symbol: str, reason: str, at: float, pnl: str = "-1",
               fee: str = "0.05") -> None:
        """A position closed by one fill (its row and its ledger row)."""
        self._write(
            [("INSERT INTO positions (position_id, symbol, side, contracts, entry_price, "
              "opened_at, closed_at, status, realized_pnl, fees, close_reason) "
              "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
              [(pid, symbol, "long", "0", "100", at - 5, at, "closed", pnl, fee, reason)])])
        self.fills([(pid, symbol, at, pnl, fee)])

    def fills(self, rows: list[tuple[str, str, Any, str, str]]) -> None:
        """Ledger rows (position id, symbol, created_at, realized_pnl, fee), written as given."""
        self._write(
            [("INSERT INTO fills (symbol, client_order_id, position_id, side, amount, price, "
              "fee, realized_pnl, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
              [(sym, f"{pid}-c", pid, "sell", "1", "99", fee, pnl, at)
               for pid, sym, at, pnl, fee in rows])])

    def fee_told(self, pid: str, symbol: str, at: float, fee: str) -> None:
        """A fee told after its fill (trading/late_fees.py `fee_entry`): quantity 0, no P&L."""
        self._write(
            [("INSERT INTO fills (symbol, client_order_id, position_id, side, amount, price, "
              "fee, realized_pnl, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
              [(symbol, f"{pid}-c", pid, "sell", "0", "99", fee, "0", at)])])

    def journal(self, rows: list[tuple[str, float]]) -> None:
        """Journal events (symbol, created_at), in one transaction (a long journal fast)."""
        self._write(
            [("INSERT INTO events (symbol, type, data, correlation_id, created_at, recorded_at) "
              "VALUES (?,?,?,?,?,?)",
              [(sym, "SignalSkipped", "{}", f"c{i}", at, at)
               for i, (sym, at) in enumerate(rows)])])

    def _write(self, statements: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        con = sqlite3.connect(self.path)
        try:
            for sql, rows in statements:
                con.executemany(sql, rows)
            con.commit()
        finally:
            con.close()
