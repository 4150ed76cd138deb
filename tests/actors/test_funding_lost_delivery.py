"""A funding payment handed to an actor that died before booking it is booked by a later read.

`Supervisor.tell` answers True once the message is in the actor's mailbox; an actor that then
crashes (its commit refused by a database hiccup at the funding hour, an earlier message's bug)
or is replaced loses its mailbox (pykka drops it). The feed remembered every payment it handed
over as done and moved its start on past it (15 minutes behind the read): the payment was never
offered again, not in this run and not after a restart once the cursor had passed it, and the
ledger's net no longer followed the wallet by that payment. Now a payment counts as done only
once its ledger entry is seen; until then each read hands it again (the actor books an id once)
and the reads' start stays at or before it.

Real hedge-grid actor (pykka, SQLite, the paper exchange); the venue's payments come from a stub
port and the feed's clock through the constructor.
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from actors.funding_feed import LAG_MS, FundingFeed
from exchange.records import PositionSide
from tests.actors.test_funding_grid_and_feed import VenuePayments, _funding_rows, pay
from tests.actors.test_grid_actor import BTC, GridBot


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_a_payment_lost_with_its_actors_mailbox_is_booked_by_a_later_read(tmp_path: Path):
    bot = GridBot(tmp_path).start()
    try:
        bot.move("100")
        assert bot.state().long.is_open
        clock = Clock(bot.clock())
        venue = VenuePayments([pay("a", "0.01", clock.t + 1, PositionSide.LONG)])
        lost: list[object] = []
        feed = FundingFeed(exchange=venue, symbols=[BTC],  # type: ignore[arg-type]
                           deliver=lambda symbol, message: lost.append(message) or True,
                           logger=logger, interval_s=0, clock=clock,
                           booked=bot.repo.booked_among)
        assert feed.poll_once() == 1 and len(lost) == 1  # in a mailbox pykka then dropped
        feed.deliver = bot.sup.tell  # the restarted actor runs
        clock.t += 2 * LAG_MS / 1000  # the next reads come well past the read's overlap
        feed.poll_once()
        bot.settle()
        assert _funding_rows(bot) == [("funding-a", bot.state().long.position_id, "0.01")]
        assert feed.poll_once() == 0  # booked: not handed again
        bot.settle()
        assert len(_funding_rows(bot)) == 1
        feed.poll_once()  # and the reads' start, held at it meanwhile, moved on
        assert venue.asked[-1] > venue.payments[0].timestamp
    finally:
        bot.stop()


def test_a_payment_its_actor_could_not_take_is_read_again_past_newer_payments(tmp_path: Path):
    """Found by a mutation audit: with the payment an actor could not take (not running:
    quarantined, restarting) no longer holding the reads' start back (`held`,
    actors/funding_feed.py), no test failed. A read more than LAG_MS after a payment (the first
    read after a restart, from the stored cursor) that also lists a newer payment (another
    symbol's of the same funding hour, a second later) moved the start past it: the payment was
    never read again and never booked once its actor ran."""
    bot = GridBot(tmp_path).start()
    try:
        bot.move("100")
        assert bot.state().long.is_open
        hour = bot.clock() + 1
        clock = Clock(hour + 2 * LAG_MS / 1000)  # read half an hour after the funding hour
        venue = VenuePayments([pay("a", "0.01", hour, PositionSide.LONG),
                               pay("b", "0.02", hour + 1, None, symbol="ETH/USDT:USDT")])
        feed = FundingFeed(exchange=venue, symbols=[BTC],  # type: ignore[arg-type]
                           deliver=lambda symbol, message: False,  # its actor is not running
                           logger=logger, interval_s=0, clock=clock,
                           lookback_s=4 * LAG_MS / 1000, booked=bot.repo.booked_among)
        assert feed.poll_once() == 0
        feed.deliver = bot.sup.tell  # the actor runs again
        clock.t += 300  # the next read, one interval later
        assert feed.poll_once() == 1
        bot.settle()
        assert _funding_rows(bot) == [("funding-a", bot.state().long.position_id, "0.01")]
    finally:
        bot.stop()
