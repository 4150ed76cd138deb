"""A position the bot has not checked against the exchange is shown as unchecked, not as a
confirmed, protected one.

Found by review: while a symbol's reconciliation fails (its position answers unreadable, the
exchange unreachable; after a restart, until its first one succeeds) its position, stop and
"protected" are what the books last held, and the status says `reconciled: false`; but the
status table and Telegram's /status showed that line exactly like a checked one (position,
stop, counted protected, nothing red) for the 2 minutes before the `reconcile_failing` alert and
for as long as it lasted after it. Both now name such symbols in red.

A real account (pykka actors, the supervisor, SQLite, the paper exchange behind a fault
wrapper), its status as the run loop builds it, the table and the /status text from it."""

from __future__ import annotations

import re
import time

from actors.messages import Reconcile
from exchange import errors
from notifications.status_text import status_text
from supervision.status import combine_status, render_table
from tests.supervision.test_unprotected_alert import BTC, ETH, open_long, running, view
from tests.support.waiting import wait_until

BOT = {"pid": 7, "running": True, "mode": "paper", "version": "v", "account": "main"}


def unreadable(name: str, args: tuple, kwargs: dict) -> None:
    raise errors.TemporaryError("position list unreadable: a row without its size")


def test_an_unreconciled_position_is_named_in_the_table_and_the_status_reply(tmp_path):
    with running(tmp_path, None, symbols=[BTC, ETH]) as (account, fx, _lines):
        open_long(account, BTC)
        open_long(account, ETH)
        wait_until(lambda: view(account, BTC).protected and view(account, ETH).protected,
                   timeout=30, message="both protected")
        now = time.time()
        checked = combine_status(BOT, {"main": account.status({}, now)}, now, grouped=False)
        assert "NOT RECONCILED" not in render_table(checked)
        assert "NOT RECONCILED" not in status_text(checked)
        fx.before["fetch_positions"] = unreadable
        assert account.sup is not None
        account.sup.tell(BTC, Reconcile(reason="test"))
        wait_until(lambda: not view(account, BTC).reconciled, timeout=30,
                   message="BTC's reconciliation failing")
        now = time.time()
        status = combine_status(BOT, {"main": account.status({}, now)}, now, grouped=False)
        table, reply = render_table(status), status_text(status)
        # before the fix: neither said anything (BTC's line read as checked and protected)
        line = next((x for x in table.splitlines() if "NOT RECONCILED" in x), None)
        assert line is not None and BTC in line and ETH not in line, table
        assert "as the books last held them" in line, line
        line = next((x for x in reply.splitlines() if "NOT RECONCILED" in x), None)
        assert line is not None and BTC in line and ETH not in line, reply
        # the same lines as an older version wrote them, without the field: not judged (it
        # said nothing either way; every position of a bot not restarted since an upgrade
        # read as unchecked, in red)
        older = account.status({}, now)
        for actor in older["actors"]:
            actor.pop("reconciled", None)
        status = combine_status(BOT, {"main": older}, now, grouped=False)
        assert "NOT RECONCILED" not in render_table(status)
        assert "NOT RECONCILED" not in status_text(status)


def test_a_position_priced_long_ago_says_how_old_its_price_is_in_the_status_reply(tmp_path):
    """The reply's uPnL is from the symbol's last price: with the feed down (a REST outage in
    REST mode says nothing else in the reply) it read as current. A price older than a minute
    now says its age; a fresh one adds nothing."""
    with running(tmp_path, None, symbols=[BTC]) as (account, _fx, _lines):
        open_long(account, BTC)
        now = time.time()
        fresh = status_text(combine_status(BOT, {"main": account.status({}, now)}, now,
                                           grouped=False))
        [line] = [x for x in fresh.splitlines() if x.startswith(f"  {BTC} long")]
        assert "old" not in line, line
        later = now + 600  # the status round 10 minutes on, no tick since (the age is the
        reply = status_text(combine_status(  # status's own: now - the actor's last tick)
            BOT, {"main": account.status({}, later)}, later, grouped=False))
        [line] = [x for x in reply.splitlines() if x.startswith(f"  {BTC} long")]
        # before the fix: "... uPnL -0.0054" and nothing about its age
        age = re.search(r" \(price (\d+) s old\)$", line)
        assert age is not None and int(age.group(1)) >= 540, line
