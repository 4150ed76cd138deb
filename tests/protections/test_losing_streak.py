"""The seed's first incident: a losing streak on one symbol ran for 3.5 hours and 38 trades
because nothing stopped it. Replayed here with real actors, the paper exchange and SQLite: the
streak stops at the daily loss limit, the alert reaches Telegram exactly once, and every
position (the streak's and another symbol's) keeps its exchange stop and is still managed."""

from __future__ import annotations

from decimal import Decimal as D
from types import SimpleNamespace

import pytest
from loguru import logger

from notifications.telegram import TelegramApi
from notifications.telegram_bot import TelegramBot
from storage import queries, reports
from supervision.alerts import Alerts
from tests.exchange.paper.paper_support import BTC, ETH
from tests.notifications.fake_telegram import FakeTelegram
from tests.protections.streak_rig import StreakRig
from tests.support.waiting import wait_until

TOKEN = "999:streak-token"
LIMIT = D(3)


def protections(**kw):
    base = {"daily_loss_limit_usdt": LIMIT, "daily_loss_limit_pct": None,
            "max_drawdown_usdt": None, "max_drawdown_pct": None, "stoploss_guard_count": 0,
            "stoploss_guard_window_s": 3600.0, "stoploss_guard_pause_s": 3600.0}
    return SimpleNamespace(**{**base, **kw})


@pytest.fixture
def telegram():
    fake = FakeTelegram(TOKEN)
    alerts = Alerts(logger=logger)
    bot = TelegramBot(api=TelegramApi(base_url=fake.url, token=TOKEN), chat_ids=(7,),
                      logger=logger, status_text=lambda: "", pause=lambda by: "", commands=False,
                      retry_initial_s=0.05)
    alerts.listeners.append(bot.on_alert)
    bot.start()
    yield fake, alerts
    bot.stop()
    fake.stop()


def sent_so_far(fake, alerts, tag: str) -> list[str]:
    """The texts chat 7 got for every alert raised before this call (marker texts left out).
    A marker alert raised now goes out behind all of them (one sender thread, first in first
    out among alerts), so once it has arrived, an alert raised earlier cannot still be on its
    way: a count read then is final, not read too early."""
    alerts.alert(None, "marker", tag)
    wait_until(lambda: any(tag in t for t in fake.texts(7)), timeout=10,
               message=f"the marker alert {tag}")
    return [t for t in fake.texts(7) if not t.startswith("MARKER")]


def test_losing_streak_stops_at_the_daily_loss_limit(tmp_path, telegram):
    fake, alerts = telegram
    rig = StreakRig(tmp_path, protections(), alerts=alerts).start()
    try:
        rig.step(ETH, "50")
        rig.enter_long(ETH)  # another symbol's position, open through the whole streak
        rig.step(ETH, "50.1")
        assert rig.view(ETH).protected and rig.exchange_position(ETH) > 0

        trades = 0
        for _ in range(10):  # the seed kept going for 38; the limit must end it early
            rig.step(BTC, "100")
            rig.enter_long(BTC)
            rig.step(BTC, "100")
            if rig.view(BTC).phase == "flat":
                break  # refused: no position opened
            trades += 1
            assert rig.view(BTC).protected, "an open position without its exchange stop"
            rig.step(BTC, "99.5", "98.5")  # through the 1 % stop: a stop-out, booked once
            assert rig.view(BTC).phase == "flat" and rig.exchange_position(BTC) == 0

        net = rig.repo.read(queries.ledger_net_pnl, BTC)
        per_trade_loss = -net / trades
        assert per_trade_loss > D("0.9")  # each trade really lost about 1 % of 100 USDT
        expected = int(LIMIT // per_trade_loss) + 1  # the trade that crossed the limit is the last
        assert trades == expected, (trades, net)
        assert -net >= LIMIT and -(net + per_trade_loss) < LIMIT
        refusal = rig.guard.refuse(BTC, rig.clock())
        assert refusal is not None and "daily loss limit" in refusal
        skipped = [e for e in rig.repo.read(queries.events, BTC, "SignalSkipped")]
        assert skipped and "entries are blocked" in skipped[-1]["data"]["reason"]
        tripped = rig.repo.read(queries.events, "*", "ProtectionTripped")
        assert len(tripped) == 1 and tripped[0]["data"]["protection"] == "daily_loss_limit"

        wait_until(lambda: fake.texts(7), timeout=10, message="the Telegram alert")
        for _ in range(3):  # more ticks, more refused signals: still one alert
            rig.enter_long(BTC)
            rig.step(BTC, "100")
        assert rig.view(BTC).phase == "flat"
        sent = sent_so_far(fake, alerts, "after the refused signals")
        assert len(sent) == 1 and "PROTECTION" in sent[0] and "daily loss limit" in sent[0]

        # the other position stays protected and managed: its stop still closes it
        assert rig.view(ETH).phase == "open" and rig.view(ETH).protected
        rig.step(ETH, "49.8", "49.2")
        assert rig.view(ETH).phase == "flat" and rig.exchange_position(ETH) == 0
        closed = rig.repo.read(reports.trades, 10, 0, ETH)
        assert closed and closed[0]["close_reason"] == "stop_loss"

        # a restart keeps it tripped without a second alert
        rig.guard = rig.new_guard()
        rig.guard.tick()
        assert rig.guard.refuse(BTC, rig.clock()) == refusal
        rig.step(BTC, "100")
        assert len(sent_so_far(fake, alerts, "after the restart")) == 1
        status = rig.guard.status_fields(rig.clock())
        assert status["protections"][0]["name"] == "daily_loss_limit"
        assert D(status["pnl"]["realized_today"]) == rig.repo.read(queries.ledger_net_pnl)
        assert status["pnl"]["losses"] == trades + 1 and status["pnl"]["wins"] == 0

        # a person resets it: entries are allowed again (the next one opens)
        rig.guard.apply("reset_protection", "*", {"name": "daily_loss_limit", "by": "test"})
        rig.enter_long(BTC)
        rig.step(BTC, "100")
        assert rig.view(BTC).phase == "open" and rig.view(BTC).protected
    finally:
        rig.stop()


def test_stoploss_guard_pauses_only_that_symbol_for_a_while(tmp_path):
    rig = StreakRig(tmp_path, protections(daily_loss_limit_usdt=None, stoploss_guard_count=2,
                                          stoploss_guard_window_s=600.0,
                                          stoploss_guard_pause_s=120.0)).start()
    try:
        for _ in range(2):
            rig.step(BTC, "100")
            rig.enter_long(BTC)
            rig.step(BTC, "100", "99.5", "98.5")
            assert rig.view(BTC).phase == "flat"
        reason = rig.guard.refuse(BTC, rig.clock())
        assert reason is not None and "stop-loss guard" in reason
        assert rig.guard.refuse(ETH, rig.clock()) is None
        rig.enter_long(BTC)
        rig.step(BTC, "100")
        assert rig.view(BTC).phase == "flat"  # paused
        rig.step(ETH, "50")
        rig.enter_long(ETH)
        rig.step(ETH, "50")
        assert rig.view(ETH).phase == "open"  # the other symbol trades on
        assert [a["kind"] for a in rig.alerts.sent] == ["protection"]
        rig.clock.advance(130)  # the pause runs out: the reset rule
        rig.step(BTC, "100")
        assert rig.guard.refuse(BTC, rig.clock()) is None
        rig.enter_long(BTC)
        rig.step(BTC, "100")
        assert rig.view(BTC).phase == "open"
    finally:
        rig.stop()


def test_trade_notices_and_the_daily_summary_come_from_the_ledger(tmp_path):
    rig = StreakRig(tmp_path, protections(daily_loss_limit_usdt=None))
    rig.guard.tick()  # the first tick replays the ledger
    notices: list[str] = []
    rig.guard.on_trade = notices.append
    rig.start()
    try:
        rig.step(BTC, "100")
        rig.enter_long(BTC)
        rig.step(BTC, "100")
        assert len(notices) == 1 and notices[0].startswith("opened BTC/USDT:USDT long")
        rig.step(BTC, "99.5", "98.5")
        assert len(notices) == 2 and notices[1].startswith("closed BTC/USDT:USDT long: net -1.")
        assert notices[1].endswith("(stop_loss)")
        [trade] = rig.repo.read(reports.trades, 5, 0, BTC)  # the API's trades: the ledger's net
        assert trade["net_pnl"] == rig.repo.read(queries.ledger_net_pnl, BTC) < D(-1)
        rig.clock.advance(86_400)
        rig.step(BTC, "100")
        assert len(notices) == 3 and notices[2].startswith("daily summary 2023-11-14: realized -1.")
    finally:
        rig.stop()
