"""INCIDENTS.md rule 5: health reports trailing-stop coverage; anything below 100 % of open
positions is an alert.

Real accounts (runtime/account.py: pykka actors, the supervisor, a SQLite file, the paper
exchange behind a fault wrapper injected through the exchange builder) and their status, built as
the run loop builds it every `bot.status_interval_s`. The status's `now` is the run loop's clock,
so the grace is crossed by passing later times, never by sleeping."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loguru import logger

from actors.messages import ExternalSignal
from config.loader import load_settings
from exchange import errors
from runtime.account import AccountRuntime
from runtime.exchanges import build_paper
from runtime.stop_accounts import stop_all
from supervision.child import ChildState
from tests.support.faulty_exchange import FaultyExchange, params_of
from tests.support.waiting import wait_until
from trading.model import Side

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"

BASE = """
[exchange]
poll_interval_s = 0.05
{exchange}
[strategy]
{strategy}
[risk]
stop_loss_pct = 5.0       # far away: the slow paper price never reaches it in a test
trailing_activation_pct = 10.0
{risk}
[paper]
latency_ms = 0
step_ms = 100
speed = 1.0
[supervision]
heartbeat_interval_s = 0.05
heartbeat_timeout_s = 10
reconcile_interval_s = 3600

[[accounts]]
name = "a"
symbols.list = {symbols}
"""
GRACE = 10 + 3 * (2 + 0.05)
"""The documented grace with these settings: the 10 s request timeout (exchange.timeout_ms) +
3 x (the 2 s stop retry + the 0.05 s heartbeat that drives it); stop_check_interval_s (1 s) is
shorter than the retry."""
QUIET = "window = 10000\nentry_z = 5.0\nexit_z = 0.1"  # signals drive the one-way trades
GRID = ('name = "hedge_grid"\n[strategy.grid]\nlevels = 0\nstep_pct = 1.0\n'
        'take_profit_pct = 3.0\nrecalc_pct = 2.0')


class StopRefusals:
    """Refuses stop orders of the chosen symbols (all: None), the first `times` ones or all."""

    def __init__(self, symbols: set[str] | None, times: int | None = None) -> None:
        self.symbols, self.times, self.refused = symbols, times, 0

    def __call__(self, name: str, args: tuple, kwargs: dict) -> None:
        symbol = args[0] if args else kwargs.get("symbol")
        if "stopLossPrice" not in params_of(args, kwargs):
            return
        if self.symbols is not None and symbol not in self.symbols:
            return
        if self.times is not None and self.refused >= self.times:
            return
        self.refused += 1
        raise errors.InvalidOrder("stop orders temporarily refused")


@contextmanager
def running(tmp: Path, refusals: StopRefusals | None, *, symbols: list[str],
            strategy: str = QUIET, exchange: str = "", risk: str = "",
            before: dict[str, Any] | None = None,
            ) -> Iterator[tuple[AccountRuntime, FaultyExchange, list[str]]]:
    path = tmp / "config.toml"
    path.write_text(BASE.format(exchange=exchange, strategy=strategy, risk=risk,
                                symbols=str(symbols).replace("'", '"')))
    settings = load_settings(path)
    box: dict[str, FaultyExchange] = {}

    def build(s: Any, data_dir: Path) -> FaultyExchange:
        box["fx"] = FaultyExchange(build_paper(s, data_dir))
        if refusals is not None:
            box["fx"].before["create_order"] = refusals
        box["fx"].before.update(before or {})  # (in place before the actors start)
        return box["fx"]

    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING",
                      filter=lambda r: r["extra"].get("account") == "a")
    account = AccountRuntime(settings.account_settings()[0], settings.data_dir_path(),
                             logger=logger, tagged=True, build_exchange_=build)
    try:
        account.open()
        account.build()
        account.start()
        yield account, box["fx"], lines
    finally:
        stop_all([account], logger)
        account.close()
        logger.remove(sink)


def view(account: AccountRuntime, symbol: str) -> Any:
    published = account.views.get(symbol)
    return None if published is None else published.view()


def open_long(account: AccountRuntime, symbol: str) -> None:
    assert account.sup is not None
    # running: the supervisor delivers a signal only once it read the actor's "started"
    # report, from its own inbox, after the actor published its view
    wait_until(lambda: (v := view(account, symbol)) is not None and v.reconciled
               and v.last_tick_at is not None
               and account.sup.children[symbol].state is ChildState.RUNNING,
               timeout=30, message=f"{symbol} ready")
    assert account.sup.deliver_signal(symbol, ExternalSignal(side=Side.LONG,
                                                             signal_id=uuid.uuid4().hex[:10]))
    wait_until(lambda: view(account, symbol).position is not None, timeout=30,
               message=f"{symbol} long open")


def unprotected_alerts(account: AccountRuntime) -> list[dict[str, Any]]:
    assert account.alerts is not None
    return [a for a in account.alerts.sent if a["kind"] == "unprotected"]


def all_clear(lines: list[str]) -> list[str]:
    """The watch's own lines: a position protected (or closed) again, coverage back to 100 %."""
    marks = ("has its stop again", "is closed after", "back to 100 %")
    return [line for line in lines if any(mark in line for mark in marks)]


def health_at(account: AccountRuntime, now: float) -> dict[str, Any]:
    return account.status({}, now)["health"]


def protected(account: AccountRuntime, symbol: str) -> Callable[[], bool]:
    return lambda: bool(view(account, symbol).protected)


def test_a_position_left_without_its_stop_alerts_once_naming_it_and_its_return(tmp_path):
    refusals = StopRefusals({BTC})  # ETH's stop is placed normally, BTC's is refused
    with running(tmp_path, refusals, symbols=[BTC, ETH]) as (account, fx, lines):
        open_long(account, BTC)
        open_long(account, ETH)
        wait_until(protected(account, ETH), timeout=30, message="ETH protected")
        wait_until(lambda: refusals.refused >= 2, timeout=30, message="BTC's stop retried")
        t0 = time.time()
        assert health_at(account, t0)["ts_coverage"] == 0.5
        assert health_at(account, t0 + GRACE - 1)["ts_coverage"] == 0.5
        assert unprotected_alerts(account) == []  # inside the grace: a placement may take that
        health_at(account, t0 + GRACE + 1)
        [alert] = unprotected_alerts(account)
        assert alert["symbol"] == BTC and alert["account"] == "a"
        assert alert["positions"] == [f"{BTC} long"] and alert["ts_coverage"] == 0.5
        assert abs(alert["grace_s"] - GRACE) < 1e-9
        assert f"{BTC} long" in alert["message"] and ETH not in alert["message"]
        for later in (2, 30, 300):  # once per episode, not once per status interval
            health_at(account, t0 + GRACE + later)
        assert len(unprotected_alerts(account)) == 1 and all_clear(lines) == []
        del fx.before["create_order"]  # the venue takes stops again: the retry places it
        wait_until(protected(account, BTC), timeout=30, message="BTC protected again")
        assert health_at(account, t0 + GRACE + 301)["ts_coverage"] == 1.0
        assert len(unprotected_alerts(account)) == 1
        said = all_clear(lines)
        assert len(said) == 2 and said[0].startswith(f"{BTC} long has its stop again after")
        assert said[1].startswith("stop coverage back to 100 %")
        health_at(account, t0 + GRACE + 302)
        assert len(all_clear(lines)) == 2


def test_a_stop_placed_within_the_grace_raises_nothing(tmp_path):
    with running(tmp_path, StopRefusals({BTC}), symbols=[BTC, ETH]) as (account, fx, lines):
        open_long(account, ETH)  # placed at once
        wait_until(protected(account, ETH), timeout=30, message="ETH protected")
        open_long(account, BTC)  # refused first, then taken by its retry
        t0 = time.time()
        assert health_at(account, t0)["ts_coverage"] == 0.5
        assert health_at(account, t0 + GRACE / 2)["ts_coverage"] == 0.5
        del fx.before["create_order"]
        wait_until(protected(account, BTC), timeout=30, message="BTC protected")
        for later in (GRACE + 1, 10 * GRACE):
            assert health_at(account, t0 + later)["ts_coverage"] == 1.0
        assert unprotected_alerts(account) == [] and all_clear(lines) == []


def test_hedge_grid_legs_without_their_stops_alert_once(tmp_path):
    with running(tmp_path, StopRefusals(None), symbols=[BTC], strategy=GRID,
                 exchange="hedge_mode = true") as (account, _, _lines):
        wait_until(lambda: (v := view(account, BTC)) is not None and v.position is not None
                   and len(v.position["legs"]) == 2, timeout=30, message="both legs open")
        t0 = time.time()
        assert health_at(account, t0) == {"open_positions": 2, "protected_positions": 0,
                                          "ts_coverage": 0.0, "unreadable_symbols": 0,
                                          "restoring_symbols": 0}
        health_at(account, t0 + GRACE / 2)
        assert unprotected_alerts(account) == []
        health_at(account, t0 + GRACE + 1)
        health_at(account, t0 + GRACE + 60)
        [alert] = unprotected_alerts(account)
        assert alert["positions"] == [f"{BTC} long", f"{BTC} short"]
        assert alert["ts_coverage"] == 0.0


def test_bot_side_stops_show_as_no_exchange_stop_and_are_not_alerted(tmp_path):
    with running(tmp_path, None, symbols=[BTC], exchange='stop_mode = "bot"') as (
            account, fx, lines):
        open_long(account, BTC)
        wait_until(lambda: view(account, BTC).stop_price is not None, timeout=30,
                   message="the bot holds the stop level")
        t0 = time.time()
        for later in (0, GRACE + 1, 10 * GRACE):  # the exchange holds no stop, by design
            assert health_at(account, t0 + later)["ts_coverage"] == 0.0
        assert unprotected_alerts(account) == [] and all_clear(lines) == []
        assert not [o for o in fx.inner.fetch_open_orders(BTC) if o.is_stop]


def test_a_wall_clock_stepped_back_does_not_hold_the_alert_back(tmp_path):
    """Found by review: the episodes were timed on the status's wall clock, so a step back of
    an hour (NTP, a VM restore) while a position was without its stop held its alert back for
    that hour on top of the grace. A step back now counts as no time passing."""
    with running(tmp_path, StopRefusals({BTC}), symbols=[BTC]) as (account, _fx, _lines):
        open_long(account, BTC)
        t0 = time.time()
        assert health_at(account, t0)["ts_coverage"] == 0.0
        assert health_at(account, t0 + GRACE / 2)["ts_coverage"] == 0.0
        back = t0 - 3600  # the wall clock stepped back an hour
        health_at(account, back)
        assert unprotected_alerts(account) == []
        health_at(account, back + GRACE / 2 + 1)  # the grace is now over, counted across the step
        [alert] = unprotected_alerts(account)
        assert alert["positions"] == [f"{BTC} long"]
        health_at(account, back + GRACE + 60)
        assert len(unprotected_alerts(account)) == 1
