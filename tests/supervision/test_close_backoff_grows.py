"""Rule 2: a failing close is retried after a backoff that doubles (up to its ceiling), and not
before it; after `max_close_attempts` the symbol escalates.

Mutation audit (helper t): a close backoff that never grows (`risk.close_backoff(1)` at every
failure, trading/lifecycle.py `close_failed`) failed no test in tests/supervision,
tests/trading and tests/actors/test_long_outage.py. A venue refusing closes for a minute then
used up every attempt within seconds and the symbol escalated (quarantined, emergency close)
where the doubling waits would have outlasted the outage.

Real supervisor, actors, SQLite and paper exchange; the close is refused through an exchange
wrapper given to the harness's constructor; the actors' clock is moved by hand."""

from __future__ import annotations

from actors.messages import Timer
from exchange import errors
from storage import queries
from tests.support.faulty_exchange import FaultyExchange, is_close_order
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


def refuse_closes(name: str, args: tuple, kwargs: dict) -> None:
    if is_close_order(args, kwargs):
        raise errors.InvalidOrder("close refused by the venue (injected)")


def test_close_retries_wait_a_doubling_backoff_then_escalate(tmp_path):
    fx: list[FaultyExchange] = []
    h = Harness(tmp_path, [BTC], wrap=lambda paper: fx.append(FaultyExchange(paper)) or fx[0],
                kill_switch_escalations=1000,
                risk=dict(max_close_attempts=5, close_backoff_initial_s=1.0,
                          close_backoff_max_s=6.0)).start()

    def timer_after(seconds: float) -> None:
        h.clock.advance(seconds)
        h.sup.tell(BTC, Timer())
        h.idle(BTC)

    def failures() -> list[float]:
        return [e["data"]["retry_in_s"] for e in queries.events(BTC, "CloseFailed")]

    def requested() -> int:
        return len(queries.events(BTC, "CloseRequested"))

    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)
        h.idle(BTC)
        fx[0].before["create_order"] = refuse_closes
        assert h.signal(BTC, None)  # exit: the close is refused
        h.idle(BTC)
        assert failures() == [1.0]
        for expected in ([1.0, 2.0], [1.0, 2.0, 4.0], [1.0, 2.0, 4.0, 6.0]):
            wait = failures()[-1]
            sent = requested()
            timer_after(wait - 0.5)  # not yet: no attempt inside the backoff
            assert requested() == sent, "a close was retried inside its backoff"
            timer_after(0.5)
            assert failures() == expected
        assert not h.view(BTC).quarantined  # 4 attempts failed, max_close_attempts 5
        timer_after(6.0)
        wait_until(lambda: h.view(BTC).quarantined, message="the 5th failure escalates")
        assert requested() == 5
    finally:
        h.stop()
