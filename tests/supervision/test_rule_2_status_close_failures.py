"""Rule 2: close attempts are counted and persisted, and the status dump shows them. A symbol
whose close keeps failing shows `close_failures` equal to the attempts counted (and persisted)
while it is closing, and still after it escalated (quarantined). Real supervisor, actors,
SQLite and paper exchange; the close is refused through an exchange wrapper given to the
harness's constructor."""

from __future__ import annotations

import sqlite3

from actors.messages import Timer
from exchange import errors
from supervision.status import build_status
from tests.support.faulty_exchange import FaultyExchange, is_close_order
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


def refuse_closes(name: str, args: tuple, kwargs: dict) -> None:
    if is_close_order(args, kwargs):
        raise errors.InvalidOrder("close refused by the venue (injected)")


def entry(h: Harness) -> dict:
    status = build_status(h.sup, {"pid": 1}, h.clock(), [])
    (mine,) = [a for a in status["actors"] if a["symbol"] == BTC]
    return mine


def persisted_attempts(h: Harness) -> int:
    with sqlite3.connect(h.tmp / "bot.sqlite") as c:
        return c.execute("SELECT close_attempts FROM actor_state WHERE symbol=?",
                         (BTC,)).fetchone()[0]


def test_failed_close_attempts_are_shown_in_the_status_while_closing(tmp_path):
    fx: list[FaultyExchange] = []
    h = Harness(tmp_path, [BTC], wrap=lambda paper: fx.append(FaultyExchange(paper)) or fx[0],
                kill_switch_escalations=1000).start()
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)
        h.idle(BTC)
        assert h.view(BTC).phase == "open" and entry(h)["close_failures"] == 0
        fx[0].before["create_order"] = refuse_closes
        assert h.signal(BTC, None)  # exit: the close is refused
        h.idle(BTC)
        first = entry(h)
        assert first["phase"] == "closing" and not h.view(BTC).quarantined
        assert first["close_failures"] == 1 == persisted_attempts(h)
        h.clock.advance(30)  # past the close backoff: the timer retries, refused again
        h.sup.tell(BTC, Timer())
        h.idle(BTC)
        second = entry(h)
        assert second["phase"] == "closing"
        assert second["close_failures"] == 2 == persisted_attempts(h)
        h.clock.advance(30)  # the third refusal escalates (max_close_attempts = 3)
        h.sup.tell(BTC, Timer())
        h.idle(BTC)
        wait_until(lambda: h.view(BTC).quarantined, message="escalated")
        escalated = entry(h)
        assert escalated["close_failures"] == 3 == persisted_attempts(h)
        # its actor still runs (it holds the position for the emergency close), but the dump
        # names the symbol quarantined, with why (mutation audit, helper t: an entry showing
        # the actor's own "running" failed no test)
        assert h.child(BTC).state.value == "running"
        assert escalated["state"] == "quarantined"
        assert "close failed 3 times" in escalated["quarantine_reason"]
    finally:
        h.stop()
