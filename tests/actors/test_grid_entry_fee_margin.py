"""The margin a hedge-grid order needs counts the taker fee on it (found by review: the grid's
balance check and the entry gate were given the initial margin only, notional / leverage, and
an order whose margin fitted the free balance but whose fee did not passed the check and went
to the venue to be refused; the paper exchange, as the venues, asks margin and fee).

Real GridActors under the supervisor, SQLite, the paper exchange in hedge mode (its taker
fee 0.055 %): a leg of 1 BTC at 100 USDT at 5x holds 20 USDT of margin and pays 0.055 USDT."""

from __future__ import annotations

from pathlib import Path

from tests.actors.test_grid_actor import GridBot


def test_a_grid_entry_whose_fee_the_balance_cannot_pay_is_not_sent(tmp_path: Path) -> None:
    bot = GridBot(tmp_path, balance="20.03")  # the margin fits, margin and fee do not
    try:
        bot.start()
        bot.move("100")
        failed = [e["error"] for e in bot.events("OrderFailed")]
        assert failed, "no grid entry was refused"
        assert all(e.startswith("insufficient balance: free 20.03 USDT < 20.055")
                   for e in failed), f"refused by the venue, not before it was sent: {failed}"
        assert bot.positions() == {}
    finally:
        bot.stop()
