"""An emergency close left owed by a temporary failure is run again while the bot runs (found by
review): it ran again only at the next start (or a person's resume), so while the bot kept
running the escalated position stayed open behind its exchange stop for days. It now runs again
after 1, 2, 4, ... minutes (at most 30 min apart), reading the positions first, until it is
done, nothing is left to close, a person resumes the symbol, the node loses the account or the
bot stops. Real paper exchange (its fault injector answers the errors), real SQLite, real
threads; the waits between the runs are injected (no test sleeps)."""

from __future__ import annotations

import threading
from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from cluster.lease import LeaseLost
from config.loader import load_settings
from exchange import errors
from exchange.paper.exchange import PaperExchange
from runtime.account import AccountRuntime
from runtime.emergency import OWED, EmergencyCloser, forgive
from runtime.stop_accounts import stop_all
from storage import queries
from storage.repository import Repository
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices
from tests.runtime.test_emergency_resume import CONFIG
from tests.support.waiting import wait_until
from trading.commands import Escalate

REASON = "close failed 3 times"


class Setup:
    def __init__(self, tmp_path: Path, pause=None, fence=None) -> None:
        clock = FakeClock()
        self.paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC],
                                   clock=clock, price_source=ScriptedPrices({BTC: D(100)}),
                                   starting_balance=D(10000), slippage_bps=D(0))
        self.repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
        self.pauses: list[float] = []
        self.alerts: list[tuple[str, str, str]] = []
        self.done = 0
        self.errors: list[str] = []
        self._sink = logger.add(lambda m: self.errors.append(m.record["message"]), level="ERROR")
        self.closer = EmergencyCloser(
            exchange=self.paper, repo=self.repo, prefix=f"acc-{self.repo.id_tag}-",
            logger=logger, clock=clock, sleep=lambda s: None, fence=fence,
            alert=lambda *a: self.alerts.append(a), retry_owed=True,
            pause=pause or (lambda wake, s: self.pauses.append(s)))
        self.paper.create_order(BTC, "market", "buy", D(1), None, {"clientOrderId": "in1"})

    def run(self) -> None:
        self.repo.set_meta(OWED + BTC, REASON)  # as the escalation commits it
        self.closer.close(BTC, REASON, self._done)
        self.closer.wait()

    def _done(self) -> None:
        self.done += 1

    def open(self) -> list:
        return [p for p in self.paper.fetch_positions([BTC]) if p.contracts > 0]

    def sent(self) -> list:
        return [s for s in self.paper.submissions() if s["clientOrderId"].endswith("x")]

    def close(self) -> None:
        logger.remove(self._sink)
        self.paper.faults.clear()
        self.repo.close()
        self.paper.close()


def test_an_owed_close_runs_again_after_a_minute_then_two_and_closes(tmp_path):
    s = Setup(tmp_path)
    try:  # three tries per run: the first run and the first run again fail
        s.paper.faults.fail_next("fetch_positions", 6, errors.ExchangeUnavailable("HTTP 503"))
        s.run()
        assert s.open() == []
        assert s.pauses == [60.0, 120.0]
        assert s.repo.get_meta(OWED + BTC) == ""
        assert s.closer.running() == []
        [alert] = s.alerts  # the first failure alerts; the run again that failed is one line
        assert alert[1] == "emergency_close_failed" and "run again while the bot runs" in alert[2]
        assert len([line for line in s.errors if "failed again" in line]) == 1
        assert s.done == 3  # the actor reconciles after each run
    finally:
        s.close()


def test_the_waits_double_up_to_30_minutes_never_a_tight_loop(tmp_path):
    s = Setup(tmp_path)
    try:
        s.paper.faults.fail_next("fetch_positions", 3 * 9, errors.RequestTimeout("timed out"))
        s.run()
        assert s.open() == []
        assert s.pauses == [60.0, 120.0, 240.0, 480.0, 960.0, 1800.0, 1800.0, 1800.0, 1800.0]
        assert len(s.alerts) == 1
    finally:
        s.close()


def test_a_close_that_went_through_sends_nothing_the_second_time(tmp_path):
    s = Setup(tmp_path)
    try:  # the venue took the close order, its answer was lost
        s.paper.faults.fail_next("create_order", 1, errors.RequestTimeout("timed out"),
                                 after_accept=True)
        s.run()
        assert s.open() == []
        assert len(s.sent()) == 1
        assert s.pauses == [60.0]
        assert s.repo.get_meta(OWED + BTC) == ""
    finally:
        s.close()


def test_a_person_resuming_the_symbol_drops_the_close_that_waits_to_run_again(tmp_path):
    holder: list[Setup] = []

    def pause(wake, seconds):
        forgive(holder[0].repo, BTC)  # `bot.py resume` applied while it waits

    s = Setup(tmp_path, pause=pause)
    holder.append(s)
    try:
        s.paper.faults.fail_next("fetch_positions", 3, errors.ExchangeUnavailable("HTTP 503"))
        s.run()
        assert len(s.open()) == 1  # the person keeps it
        assert s.sent() == []
        assert s.closer.running() == []
    finally:
        s.close()


class Lease:
    def __init__(self) -> None:
        self.lost = False

    def check(self) -> None:
        if self.lost:
            raise LeaseLost("a", 1, "node-1")


def test_a_node_that_lost_the_account_does_not_run_it_again(tmp_path):
    lease = Lease()
    s = Setup(tmp_path, pause=lambda wake, seconds: setattr(lease, "lost", True), fence=lease)
    try:
        s.paper.faults.fail_next("fetch_positions", 3, errors.ExchangeUnavailable("HTTP 503"))
        s.run()
        assert len(s.open()) == 1 and s.sent() == []
        assert s.repo.get_meta(OWED + BTC) == REASON  # the new owner runs it
        assert s.closer.running() == []
    finally:
        s.close()


def test_stop_ends_the_wait_for_the_next_run(tmp_path):
    waiting = threading.Event()

    def pause(wake, seconds):  # the real wait (60 s), told when it begins
        waiting.set()
        wake.wait(seconds)

    s = Setup(tmp_path, pause=pause)
    try:
        s.paper.faults.fail_next("fetch_positions", 3, errors.ExchangeUnavailable("HTTP 503"))
        s.repo.set_meta(OWED + BTC, REASON)
        s.closer.close(BTC, REASON)
        wait_until(waiting.is_set, timeout=30, message="the owed close waits to run again")
        s.closer.stop()
        wait_until(lambda: s.closer.running() == [], timeout=30, message="its thread ended")
        assert s.sent() == [] and len(s.open()) == 1
        assert s.repo.get_meta(OWED + BTC) == REASON  # the next start runs it
    finally:
        s.close()


def test_the_account_runs_it_again_and_its_stop_ends_the_wait(tmp_path):
    """Wiring: the account's closer runs an owed close again, and the account's stop does not
    wait out (nor report stuck) a close waiting a minute to run again."""
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"))
    settings = load_settings(config)
    paper: list[PaperExchange] = []

    def build(s, data_dir):
        paper.append(PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC],
                                   price_source=ScriptedPrices({BTC: D(100)}),
                                   starting_balance=D(10000), slippage_bps=D(0)))
        return paper[0]

    account = AccountRuntime(settings.account_settings()[0], settings.data_dir_path(),
                             logger=logger, tagged=True, build_exchange_=build)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    stopped = False
    try:
        account.open()
        account.build()
        account.start()
        assert account.sup is not None and account.repo is not None
        paper[0].faults.fail_next("fetch_positions", 1000, errors.ExchangeUnavailable("503"))
        account.sup.escalated(BTC, Escalate(reason=REASON, attempts=3, last_error="x"))
        wait_until(lambda: any("still owed: run again while the bot runs" in line
                               for line in lines), timeout=30, message="the close failed")
        stopped = True
        assert BTC not in account.stop()  # not waited out for 30 s, nor reported stuck
        assert account.closer is not None and account.closer.running() == []
        assert account.repo.get_meta(OWED + BTC) == REASON
        assert account.repo.read(queries.events, BTC, "EmergencyCloseRequested") == []
    finally:
        logger.remove(sink)
        paper[0].faults.clear()
        if not stopped:
            stop_all([account], logger)
        account.close()


def test_the_status_counts_every_failed_run_of_an_owed_close(tmp_path):
    """Mutation audit: the status's count of failed runs stuck at 1 survived every test (each
    showed one failed run). A person reading `bot.py status` could not tell a close that failed
    once from one that has kept failing for an hour."""
    holder: list[Setup] = []
    seen: list[int] = []

    def pause(wake, seconds):  # the wait before each run again: what the status shows then
        [entry] = holder[0].closer.owed_status({BTC: REASON}, [BTC], [])
        seen.append(entry["failed_runs"])

    s = Setup(tmp_path, pause=pause)
    holder.append(s)
    try:  # three tries per run: three runs fail, the fourth closes
        s.paper.faults.fail_next("fetch_positions", 3 * 3, errors.ExchangeUnavailable("HTTP 503"))
        s.run()
        assert s.open() == []
        assert seen == [1, 2, 3]
    finally:
        s.close()


def test_a_close_owed_again_after_a_resume_counts_its_failed_runs_afresh(tmp_path):
    """Mutation audit: the status keeping a resumed symbol's runs (CloseStatus.forget a no-op)
    survived every test. A later escalation's close was then shown with the earlier episode's
    failed runs and last error, before it had failed once."""
    holder: list[Setup] = []
    seen: list[int] = []

    def pause(wake, seconds):
        s = holder[0]
        [entry] = s.closer.owed_status({BTC: REASON}, [BTC], [])
        seen.append(entry["failed_runs"])
        if len(seen) == 1:
            forgive(s.repo, BTC)  # a person resumes the symbol while it waits: not run again

    s = Setup(tmp_path, pause=pause)
    holder.append(s)
    try:
        s.paper.faults.fail_next("fetch_positions", 3, errors.ExchangeUnavailable("HTTP 503"))
        s.run()  # fails once, then the person's resume drops it
        assert len(s.open()) == 1
        s.paper.faults.fail_next("fetch_positions", 3, errors.ExchangeUnavailable("HTTP 503"))
        s.run()  # escalated again later: fails once, runs again and closes
        assert s.open() == []
        assert seen == [1, 1]
    finally:
        s.close()
