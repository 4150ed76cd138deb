"""After a crash-loop escalation the symbol's actor is stopped; the emergency close is sent, and
its fill is now booked by a reconcile-only run of the symbol's actor (found by review: the
reconcile after the close reached no actor, so until `bot.py resume` or a restart the journal had
no PositionClosed, the database kept the position open and holding an entry slot, the old stop
stayed on the exchange and the dump showed the position open and protected). The run takes no
entries, the symbol stays quarantined, and a run that fails itself is not started again in a
loop. Real AccountRuntime on the paper exchange, real SQLite, real actors and threads; the crash
loop is a strategy whose construction raises (injected through the account's actor starter)."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from actors.messages import ExternalSignal
from actors.symbol_actor import SymbolActor
from config.loader import load_settings
from exchange import errors
from exchange.paper.exchange import PaperExchange
from runtime.account import AccountRuntime
from runtime.emergency import OWED
from runtime.stop_accounts import stop_all
from storage import queries
from tests.exchange.paper.paper_support import BTC, ScriptedPrices
from tests.runtime.test_emergency_resume import CONFIG
from tests.support.waiting import wait_until
from trading.model import Side

FAST_LOOP = "reconcile_interval_s = 3600\nmax_restarts = 1\nbackoff_initial_s = 0.01\n"


def _broken_strategy(symbol):  # noqa: ANN001, ANN202
    raise RuntimeError("a bug in the strategy's constructor")


class Bot:
    def __init__(self, tmp_path: Path, *, broken: bool, reconciler_fails: bool = False,
                 wrap=None, reconciler_wrap=None) -> None:  # noqa: ANN001
        """`wrap`: around the account's exchange; `reconciler_wrap`: around the exchange of
        the reconcile-only run only (its ActorDeps)."""
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(data=tmp_path / "data").replace(
            "reconcile_interval_s = 3600\n", FAST_LOOP))
        settings = load_settings(config)
        self.paper: list[PaperExchange] = []
        self.reconcilers = 0
        self.lock = threading.Lock()

        def build(s, data_dir):  # noqa: ANN001, ANN202
            self.paper.append(PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC],
                                            price_source=ScriptedPrices({BTC: D(100)}),
                                            starting_balance=D(10000), slippage_bps=D(0)))
            return self.paper[0] if wrap is None else wrap(self.paper[0])

        def start_actor(symbol, deps):  # noqa: ANN001, ANN202
            if deps.strategy_for is None:  # the reconcile-only run: built without a strategy
                with self.lock:
                    self.reconcilers += 1
                if reconciler_fails:
                    raise RuntimeError("a bug in the actor's construction")
                if reconciler_wrap is not None:
                    deps = dataclasses.replace(deps, exchange=reconciler_wrap(deps.exchange))
            elif broken:
                deps = dataclasses.replace(deps, strategy_for=_broken_strategy)
            return SymbolActor.start(symbol, deps)

        self.account = AccountRuntime(settings.account_settings()[0], settings.data_dir_path(),
                                      logger=logger, tagged=False, build_exchange_=build,
                                      start_actor=start_actor)
        self.account.open()
        self.account.build()
        self.stopped = False

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            stop_all([self.account], logger)
            self.account.close()

    def holds(self) -> list:
        return [p for p in self.paper[0].fetch_positions([BTC]) if p.contracts > 0]


def _open_a_protected_position(tmp_path: Path) -> None:
    bot = Bot(tmp_path, broken=False)
    try:
        bot.account.start()
        sup, views = bot.account.sup, bot.account.views
        assert sup is not None
        wait_until(lambda: (v := views.get(BTC)) is not None and v.view().reconciled
                   and v.view().last_tick_at is not None
                   and sup.children[BTC].state.value == "running", timeout=30,
                   message="BTC ready")
        assert sup.deliver_signal(BTC, ExternalSignal(side=Side.LONG,
                                                      signal_id=uuid.uuid4().hex[:10]))
        wait_until(lambda: (v := views[BTC].view()).position and v.protected, timeout=30,
                   message="BTC open and protected")
    finally:
        bot.stop()


def test_the_close_is_booked_while_the_symbol_stays_quarantined(tmp_path: Path) -> None:
    _open_a_protected_position(tmp_path)
    bot = Bot(tmp_path, broken=True)  # its strategy now fails: the actor crash-loops
    try:
        assert [o for o in bot.paper[0].fetch_open_orders(BTC) if o.is_stop]
        bot.account.start()
        sup, repo = bot.account.sup, bot.account.repo
        assert sup is not None and repo is not None
        wait_until(lambda: sup.children[BTC].state.value == "quarantined", timeout=60,
                   message="escalated")
        wait_until(lambda: not bot.holds(), timeout=60, message="the emergency close filled")
        wait_until(lambda: repo.read(queries.events, BTC, "PositionClosed") != [], timeout=60,
                   message="the close booked without a resume")
        [closed] = repo.read(queries.events, BTC, "PositionClosed")
        assert closed["data"]["reason"] == "emergency_close"
        assert repo.read(queries.open_positions_of, [BTC]).get(BTC, 0) == 0
        wait_until(lambda: bot.paper[0].fetch_open_orders(BTC) == [], timeout=30,
                   message="the old stop cancelled")
        wait_until(lambda: bot.account.views[BTC].view().position is None, timeout=30,
                   message="the view flat")
        wait_until(lambda: bot.account.status({"pid": 1}, time.time())[
            "emergency_closes_not_booked"] == [], timeout=30, message="not listed unbooked")
        assert sup.children[BTC].state.value == "quarantined"  # a person still resumes it
        assert repo.get_meta(OWED + BTC) == ""
        assert bot.reconcilers == 1
        sup.resume(BTC)  # a person's resume: the actor (still broken) fails and escalates again
        wait_until(lambda: len([e for e in sup.escalations if e["symbol"] == BTC]) == 2,
                   timeout=60, message="escalated again after the resume")
        wait_until(lambda: bot.reconcilers == 2, timeout=60, message="a run after that close")
        assert len(repo.read(queries.events, BTC, "PositionClosed")) == 1  # booked once
    finally:
        bot.stop()


def test_a_reconcile_only_run_that_fails_is_not_started_again(tmp_path: Path) -> None:
    _open_a_protected_position(tmp_path)
    bot = Bot(tmp_path, broken=True, reconciler_fails=True)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    try:
        bot.account.start()
        sup = bot.account.sup
        assert sup is not None
        wait_until(lambda: any("reconcile after the emergency close not started" in line
                               for line in lines), timeout=60, message="the failed run said")
        bot.account.closer.wait()
        status = bot.account.status({"pid": 1}, time.time())
        [entry] = status["emergency_closes_not_booked"]  # still said: nothing booked it
        assert entry["symbol"] == BTC
        assert bot.reconcilers == 1
        assert sup.children[BTC].state.value == "quarantined"
    finally:
        logger.remove(sink)
        bot.stop()


class UnreadablePositions:
    """The reconcile-only run's exchange: its position answers cannot be read."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self.inner = inner

    def fetch_positions(self, symbols):  # noqa: ANN001, ANN201
        raise errors.TemporaryError("position list unreadable: a row without its size")

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.inner, name)


def test_a_run_that_could_not_reconcile_leaves_the_close_listed_unbooked(tmp_path: Path):
    """A reconcile-only run that starts but cannot reconcile (the exchange's answers unreadable)
    booked nothing: the status keeps naming the close as not booked, so a person knows the
    position in the books is not the exchange's (it was dropped as if booked)."""
    _open_a_protected_position(tmp_path)
    bot = Bot(tmp_path, broken=True, reconciler_wrap=UnreadablePositions)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        bot.account.start()
        wait_until(lambda: any(line.startswith("reconcile-only run") and "started" not in line
                               or "could not reconcile" in line for line in lines),
                   timeout=60, message="the run's end said")
        assert not bot.holds()  # the close filled on the exchange
        [entry] = bot.account.status({"pid": 1}, time.time())["emergency_closes_not_booked"]
        assert entry["symbol"] == BTC
        assert bot.reconcilers == 1
    finally:
        logger.remove(sink)
        bot.stop()


class HeldRead:
    """The paper exchange whose first position read waits until `release` is set (the closer's:
    the broken actor never reads); every other call goes to the paper exchange."""

    def __init__(self, paper: PaperExchange, release: threading.Event) -> None:
        self.paper, self.release, self.held = paper, release, False

    def fetch_positions(self, symbols):  # noqa: ANN001, ANN201
        if not self.held:
            self.held = True
            assert self.release.wait(60)
        return self.paper.fetch_positions(symbols)

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.paper, name)


def test_a_close_owed_at_start_books_its_fill_after_a_crash_loop_meanwhile(tmp_path: Path):
    """The close owed by the previous process runs at start; the symbol crash-loops into
    quarantine while it still runs (its escalation's close is asked again of that run): the
    end of that run reaches no actor, and the reconcile-only run books it (found by review: the
    start's owed close only told the actor, which no longer ran)."""
    _open_a_protected_position(tmp_path)
    release = threading.Event()
    bot = Bot(tmp_path, broken=True, wrap=lambda paper: HeldRead(paper, release))
    try:
        repo = bot.account.repo
        assert repo is not None
        repo.set_meta(OWED + BTC, "close failed 3 times")  # the previous process was killed
        bot.account.start()
        sup = bot.account.sup
        assert sup is not None
        wait_until(lambda: sup.children[BTC].state.value == "quarantined", timeout=60,
                   message="escalated while the owed close waits")
        release.set()
        wait_until(lambda: repo.read(queries.events, BTC, "PositionClosed") != [], timeout=60,
                   message="the close booked without a resume")
        assert not bot.holds()
        assert sup.children[BTC].state.value == "quarantined"
    finally:
        release.set()
        bot.stop()
