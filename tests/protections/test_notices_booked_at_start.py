"""A close booked by this run before the protections' first pass is announced like any other.

The guard's first pass replays the whole ledger and announces nothing of it (it was news to an
earlier run). Found by review: the guard is built with the account, its actors start next and
reconcile with the exchange, and the first pass comes after; a stop that filled while the bot
was down, booked by that start reconciliation (`closed_on_exchange`), was read by the replay
and never announced: with `notify_trades`, the one close a person most needs to hear of (it
happened while nobody watched) reached no chat. The ledger's rows at the guard's build are the
replay; later rows are news. Real SQLite ledger, a restart = a new guard over the same file."""

from __future__ import annotations

from tests.protections.ledger_rig import BTC, ETH, T0, Ledger, protections


def test_a_close_booked_by_the_start_reconciliation_is_announced(tmp_path):
    ledger = Ledger(tmp_path)
    try:
        ledger.closed("p1", ETH, "take_profit", T0, pnl="3")  # closed before the restart
        ledger.fills([("p2", BTC, T0 + 10, "0", "0.05")])  # opened before it, still open
        guard = ledger.guard(protections(), T0 + 600)  # the bot starts again
        notices: list[str] = []
        guard.on_trade = notices.append
        # its actor's start reconciliation books the stop that filled while the bot was down,
        # and a fee told late for the position closed before the restart
        ledger.closed("p2", BTC, "closed_on_exchange", T0 + 610)
        ledger.fee_told("p1", ETH, T0 + 611, "0.01")
        guard.tick()
        assert notices == [f"closed {BTC} long: net -1.1000 USDT (closed_on_exchange)"]
        assert guard.totals.wins == 1 and guard.totals.losses == 1
        guard.tick()  # said once
        assert len(notices) == 1, notices
    finally:
        ledger.close()
