"""A protections pass that fails at every tick (the account's database gone) is one ERROR line,
then at most one a minute with the count, and one line when it works again.

Found by review: the run loop logged every failed pass as an ERROR with its traceback, once per
`bot.status_interval_s` (1 s by default) per account: PostgreSQL down for ten minutes wrote 600
tracebacks per account into bot.log, burying every other line (the dashboard's own database
errors were already one throttled line).

Real account guards over real SQLite; the failing database is a repository wrapper handed to
the guard's constructor whose reads raise until told otherwise; the clock is the test's."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from protections.guard import AccountGuard, build_checks
from protections.wiring import GuardTicks
from tests.protections.ledger_rig import BASE, BTC, T0, Ledger, protections


class Lines:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def opt(self, **kwargs: Any) -> Lines:
        return self

    def error(self, message: str, *args: Any) -> None:
        self.lines.append(("ERROR", message.format(*args)))

    def info(self, message: str, *args: Any) -> None:
        self.lines.append(("INFO", message.format(*args)))

    warning = debug = info


class Unreachable:
    """The real repository, except that reads raise while ``down``."""

    def __init__(self, repo: Any) -> None:
        self._repo, self.down = repo, True

    def read(self, *args: Any) -> Any:
        if self.down:
            raise sqlite3.OperationalError("unable to open database file")
        return self._repo.read(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)


def test_a_pass_failing_every_tick_is_one_line_a_minute(tmp_path: Path):
    ledger = Ledger(tmp_path)
    ledger.closed("btc1", BTC, "signal", T0, pnl="-12", fee="0.05")
    repo = Unreachable(ledger.repo)
    guard = AccountGuard(repo=repo, sup=SimpleNamespace(children={}, kill_switch=False),
                         checks=build_checks(protections(daily_loss_limit_usdt=D(10)), BASE),
                         base=BASE, alert=lambda *a, **k: None, logger=ledger.log,
                         clock=lambda: T0 + 10)
    now = [100.0]
    log = Lines()
    ticks = GuardTicks([SimpleNamespace(name="alpha", guard=guard)], log, clock=lambda: now[0])
    for _ in range(50):  # 50 passes, a second apart
        ticks.tick()
        now[0] += 1.0
    errors = [text for level, text in log.lines if level == "ERROR"]
    assert len(errors) == 1, errors
    assert "protections of account alpha failed" in errors[0]
    assert "unable to open database file" in errors[0]

    now[0] += 11.0  # a minute after the first line
    ticks.tick()
    errors = [text for level, text in log.lines if level == "ERROR"]
    assert len(errors) == 2, errors
    assert "still failing" in errors[1] and "51 failed passes in a row" in errors[1], errors[1]

    repo.down = False
    ticks.tick()
    assert guard.refuse(BTC, T0 + 10) is not None  # the pass ran: the limit tripped
    assert log.lines[-1] == ("INFO", "protections of account alpha work again after 51 failed "
                                     "passes"), log.lines[-1]
    ticks.tick()
    assert len(log.lines) == 3
    ledger.close()
