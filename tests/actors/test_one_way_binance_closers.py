"""The one-way core on Binance, whose venue counts a position's resting closing limit orders
against a new close (-4118 "ReduceOnly Order Failed", tests/exchange/ccxt/emu_book.py
`_held_by_closers`). The one-way core rests no take-profit limit of its own (its take-profit
is bot-side, trading/decide.py `_exit_reason`; its stop is a conditional order the venue does
not count), but a person's reduce-only limit sell of the long (a take-profit set by hand)
refuses every close of ours while it rests. Reconciliation cancels orders nobody owns
(INCIDENTS rule 9, journaled `OrphanCanceled`), which clears the way; before, a refused close
did not ask for one, the closes went on being refused, 1 s and 2 s apart, and the symbol
escalated (quarantine, alert, emergency close) after max_close_attempts (3 in this rig),
some 4 s after the exit, long before the next periodic reconciliation (30 s by default).
A real SymbolActor (pykka thread, SQLite), the real ccxt gateway, the Binance emulator in
one-way mode, its WebSocket emulator and the real ccxt.pro streams."""

from __future__ import annotations

from decimal import Decimal

from actors.messages import ExternalSignal
from tests.actors.live_emulator import live_long, streamed
from tests.support.waiting import wait_until


def test_an_exit_beside_a_reduce_only_limit_by_hand_is_not_escalated(tmp_path, lines):
    with live_long(tmp_path, "binanceusdm", wall_time=True) as bot, \
            streamed(bot, "binanceusdm"):
        size = bot.position()
        theirs = bot.book.place(  # a person's take-profit of the whole long, far away
            cid="web_tp_by_hand", symbol="BTCUSDT", side="sell", type="limit", qty=size,
            price=Decimal(60000), trigger=None, trigger_direction=None, reduce_only=True,
            extra={"positionSide": "BOTH"})
        bot.ref.tell(ExternalSignal(side=None))
        wait_until(lambda: bot.position() == 0 or bot.alerts, timeout=30,
                   message="the long closed, or an escalation")
        refused = [line for line in lines if "-4118" in line]
        assert bot.alerts == [], f"escalated: {bot.alerts}; refusals: {refused[:2]}"
        assert bot.position() == 0
        assert theirs.status == "canceled"
        assert any("OrphanCanceled" in line and "web_tp_by_hand" in line for line in lines)


def test_a_long_through_its_stop_with_none_resting_closes_beside_a_limit_by_hand(
        tmp_path, lines):
    """Our stop cancelled by hand and the price through its level: the bot closes the long
    itself. A person's reduce-only limit (a take-profit) was kept by reconciliation as the bare
    position's protection (trading/reconcile.py `_bare`), so every close was refused, -4118,
    until the symbol escalated; only a stop protects, the limit goes (OrphanCanceled)."""
    with live_long(tmp_path, "binanceusdm", wall_time=True) as bot, \
            streamed(bot, "binanceusdm"):
        size = bot.position()
        theirs = bot.book.place(
            cid="web_tp_by_hand", symbol="BTCUSDT", side="sell", type="limit", qty=size,
            price=Decimal(60000), trigger=None, trigger_direction=None, reduce_only=True,
            extra={"positionSide": "BOTH"})
        (stop,) = bot.stops()
        assert stop.trigger is not None
        with bot.book.lock:  # a person cancels our stop, and the market falls through it
            bot.book.cancel(stop)
            bot.book.set_price("BTCUSDT", stop.trigger - Decimal(200))
        wait_until(lambda: bot.position() == 0 or bot.alerts, timeout=30,
                   message="the long closed, or an escalation")
        refused = [line for line in lines if "-4118" in line]
        assert bot.alerts == [], f"escalated: {bot.alerts}; refusals: {refused[:2]}"
        assert bot.position() == 0
        assert theirs.status == "canceled"


def test_a_close_the_venue_cut_to_a_position_closed_by_hand_is_no_failed_attempt(
        tmp_path, lines):
    """A person's reduce-only order closed part of the long, its fill hidden from the bot (no
    stream, no poll in this rig). The bot's close goes out for the books' size; the venue cuts
    it to what is left and it fills that, leaving the venue flat. That close closed the
    position: it is no failed attempt (incident 2 counts failures toward escalation), nothing
    is journaled as 'left N contracts open', and a reconciliation asked for at once books the
    rest closed on the exchange (before: `CloseFailed {'attempt': 1, 'error': 'close ... left
    0.001 contracts open'}`, and the next close went out against a flat venue)."""
    with live_long(tmp_path, "binanceusdm", wall_time=True) as bot:
        size = bot.position()
        part = size / 2
        assert part > 0
        bot.book.place(  # by hand, the fill unseen by the bot
            cid="web_part_by_hand", symbol="BTCUSDT", side="sell", type="market", qty=part,
            price=None, trigger=None, trigger_direction=None, reduce_only=True,
            extra={"positionSide": "BOTH"})
        assert bot.position() == size - part
        bot.ref.tell(ExternalSignal(side=None))
        wait_until(lambda: bot.view().position is None or bot.alerts, timeout=30,
                   message="the books flat, or an escalation")
        assert bot.alerts == []
        assert bot.position() == 0
        failed = [line for line in lines if "CloseFailed" in line]
        assert failed == [], failed
        refused = [line for line in lines if "-2022" in line or "ReduceOnly" in line]
        assert refused == [], f"a close was sent against the flat venue: {refused[:2]}"
        assert any("closed_on_exchange" in line for line in lines)
