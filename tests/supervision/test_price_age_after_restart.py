"""Right after a start, a position's mark comes from the reconciliation's price read until
the first tick of this run: its age is said from that read.

Found by review: the status had only the actor's tick age, empty until a tick arrived in this
run, so with the feed failing from the start Telegram's /status, the dashboard page and the
status table showed the mark and uPnL read at the start with no age at all, as if current.

A real account (pykka actors, the supervisor, SQLite, the paper exchange behind a fault
wrapper) opens a long; a second run on the same data directory has a feed whose every price
poll fails, so its only price is its reconciliation's read."""

from __future__ import annotations

import re
import threading
import time

from exchange import errors
from notifications.status_text import status_text
from supervision.status import combine_status, render_table
from tests.supervision.test_unprotected_alert import BTC, open_long, running, view
from tests.support.waiting import wait_until

BOT = {"pid": 7, "running": True, "mode": "paper", "version": "v", "account": "main"}


def feed_polls_fail(name: str, args: tuple, kwargs: dict) -> None:
    """The feed's price polls (its own thread) fail; a reconciliation's read answers."""
    if threading.current_thread().name == "market-feed":
        raise errors.TemporaryError("tickers unreachable")


def test_a_mark_from_the_reconciliations_read_says_its_age_before_any_tick(tmp_path):
    with running(tmp_path, None, symbols=[BTC]) as (account, _fx, _lines):
        open_long(account, BTC)
    with running(tmp_path, None, symbols=[BTC],
                 before={"fetch_tickers": feed_polls_fail}) as (account, _fx, _lines):
        wait_until(lambda: (v := view(account, BTC)) is not None and v.reconciled
                   and v.position is not None and v.position["mark_price"] is not None,
                   timeout=30, message="BTC restored and priced by its reconciliation")
        assert view(account, BTC).last_tick_at is None  # no tick in this run
        later = time.time() + 600  # the status round 10 minutes on, still no tick
        status = combine_status(BOT, {"main": account.status({}, later)}, later, grouped=False)
        [actor] = status["actors"]
        assert actor["last_tick_age_s"] is None
        # before the fix: no such key (the mark's age was the tick age: none)
        assert actor.get("price_age_s") is not None and actor["price_age_s"] >= 590, actor
        [line] = [x for x in status_text(status).splitlines() if x.startswith(f"  {BTC} long")]
        age = re.search(r" \(price (\d+) s old\)$", line)
        assert age is not None and int(age.group(1)) >= 590, line
        [row] = [x for x in render_table(status).splitlines() if x.startswith(BTC)]
        assert re.search(r"\(\d+ s old\)", row), row
