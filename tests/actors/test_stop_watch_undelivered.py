"""A stop gone from the exchange whose symbol's actor is not running (quarantined by a crash
loop, stopped) cannot be reported: the watch looks again every round, and it logged the same
`WARNING stop X is canceled on the exchange` each time (every second at the default pace, for
as long as the symbol stayed quarantined). One line per stop and state: again only when what
the exchange says changes, or once the report was delivered and the stop is lost again.
Real actor, real ccxt gateway, the Bybit emulator."""

from __future__ import annotations

from loguru import logger

from actors.stop_watch import StopWatch
from tests.actors.live_emulator import BTC, live_long


def test_an_undeliverable_report_warns_once_per_state(tmp_path, lines):
    with live_long(tmp_path) as bot:
        (stop,) = bot.stops()
        running = {"yes": False}

        def deliver(symbol: str, message: object) -> bool:
            return running["yes"] and bot.deliver(symbol, message)

        sw = StopWatch(exchange=bot.gateway, views=bot.views, deliver=deliver,
                       interval_s=0.05, logger=logger)
        bot.book.cancel(stop)
        assert [sw.check_once() for _ in range(5)] == [0] * 5 and sw.checks == 5
        warned = [line for line in lines if stop.cid in line and "on the exchange" in line]
        assert len(warned) == 1, warned
        with bot.book.lock:
            del bot.book.orders[stop.oid]  # the venue forgot it: a new state, one more line
        assert [sw.check_once() for _ in range(3)] == [0] * 3
        warned = [line for line in lines if stop.cid in line and "on the exchange" in line]
        assert len(warned) == 2 and "not on the exchange" in warned[1], warned
        running["yes"] = True  # the actor runs again: reported (and logged) at the next look
        assert sw.check_once() == 1 and sw.reported == 1


def test_an_undeliverable_lost_stop_is_alerted_once(tmp_path):
    """The status cannot show it: a symbol whose actor does not run (quarantined after a crash
    loop, its emergency close failed, its position left "behind its exchange stop") shows its
    last published state, stop acknowledged, and the coverage alert counts it protected. The
    watch is the only part that knows the stop is gone: it alerts, once per stop and state."""
    with live_long(tmp_path) as bot:
        (stop,) = bot.stops()
        alerts: list[tuple[str, str]] = []
        sw = StopWatch(exchange=bot.gateway, views=bot.views, deliver=lambda s, m: False,
                       interval_s=0.05, logger=logger,
                       unprotected=lambda symbol, text: alerts.append((symbol, text)))
        bot.book.cancel(stop)
        assert [sw.check_once() for _ in range(4)] == [0] * 4
        assert len(alerts) == 1, alerts
        symbol, text = alerts[0]
        assert symbol == BTC and stop.cid in text and "canceled" in text
        assert "does not run" in text and "no exchange stop" in text


def test_the_account_wiring_raises_it_as_an_unprotected_alert(tmp_path):
    """actors/protection.py `install`, as runtime/account.py calls it, with the account's real
    Alerts: the alert is of kind `unprotected` (forwarded to every hook) and names the symbol."""
    from types import SimpleNamespace

    from actors import protection
    from actors.entry_gate import AccountGate
    from supervision.alerts import Alerts

    with live_long(tmp_path) as bot:
        (stop,) = bot.stops()
        alerts = Alerts(logger=logger)
        settings = SimpleNamespace(supervision=SimpleNamespace(
            stop_check_interval_s=0.05, stop_check_streamed_interval_s=0.05))
        gate = AccountGate(max_open_positions=None, kill_switch=lambda: False)
        sw = protection.install(settings, bot.gateway, gate, bot.views, lambda s, m: False,
                                logger, alerts=alerts)
        bot.book.cancel(stop)
        assert sw.check_once() == 0
        assert [(a["symbol"], a["kind"]) for a in alerts.sent] == [(BTC, "unprotected")]
