"""Rule 2: a symbol that escalated or was otherwise quarantined takes no new entries until a
person resumes it. The quarantine alone must refuse them: here the symbol is flat (nothing
else, no open position, no kill switch, would refuse the entry) and reconciled.

Real supervisor, actors, SQLite and paper exchange (tests/support/harness.py)."""

from __future__ import annotations

from decimal import Decimal

from storage import queries
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


def submitted(h: Harness) -> list[str]:
    """Client order ids of every create_order the exchange received for BTC."""
    return [s["clientOrderId"] for s in h.paper.submissions() if s["symbol"] == BTC]


def test_a_quarantined_flat_symbol_refuses_an_entry_signal_naming_the_quarantine(tmp_path):
    h = Harness(tmp_path, [BTC], risk={"adopt_unknown_positions": False})
    # a position someone opened by hand: not ours, not adopted, so the symbol is quarantined
    h.paper.fetch_tickers([BTC])
    h.paper.create_order(BTC, "market", "buy", Decimal("0.01"), None,
                         {"clientOrderId": "by-hand-1"})
    h.start()
    try:
        wait_until(lambda: h.view(BTC) is not None and h.view(BTC).quarantined,
                   message="quarantined by the unknown position")
        view = h.view(BTC)
        assert view.phase == "flat" and view.reconciled and not view.position
        assert submitted(h) == ["by-hand-1"]
        h.poll()  # a fresh price, so "no price yet" cannot be the refusal
        assert h.signal(BTC, Side.LONG)
        h.idle(BTC)
        skipped = h.repo.read(queries.events, BTC, "SignalSkipped")
        assert len(skipped) == 1, skipped
        reason = skipped[0]["data"]["reason"]
        assert reason.startswith("quarantined"), reason
        assert view.quarantine_reason and view.quarantine_reason in reason
        assert submitted(h) == ["by-hand-1"]  # no entry order reached the exchange
        assert not h.repo.read(queries.events, BTC, "EntryRequested")
        assert h.view(BTC).phase == "flat" and h.view(BTC).quarantined
    finally:
        h.stop()


def test_after_an_escalation_the_symbol_takes_no_entry_even_once_flat(tmp_path):
    from actors.messages import Reconcile, Timer
    from exchange import errors
    from tests.support.faulty_exchange import FaultyExchange, is_close_order

    def refuse_closes(name: str, args: tuple, kwargs: dict) -> None:
        if is_close_order(args, kwargs):
            raise errors.InvalidOrder("close refused by the venue (injected)")

    fx: list[FaultyExchange] = []
    h = Harness(tmp_path, [BTC], wrap=lambda paper: fx.append(FaultyExchange(paper)) or fx[0],
                risk={"cooldown_after_loss_s": 0}, kill_switch_escalations=1000).start()
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)
        h.idle(BTC)
        pos = h.exchange_position(BTC)
        assert pos is not None and h.view(BTC).phase == "open"
        fx[0].before["create_order"] = refuse_closes
        h.signal(BTC, None)  # the exit's close is refused, then retried and refused again
        h.idle(BTC)
        for _ in range(2):
            h.clock.advance(30)
            h.sup.tell(BTC, Timer())
            h.idle(BTC)
        wait_until(lambda: h.view(BTC).quarantined, message="escalated")
        assert h.repo.read(queries.events, BTC, "Escalated")
        # the actor publishes its quarantine and hands the escalation to the supervisor's inbox;
        # the supervisor starts the emergency close later, on its own thread, then lists it:
        # `closer.wait` before that start waits for nothing
        wait_until(lambda: [e for e in h.sup.escalations if e["symbol"] == BTC],
                   message="the escalation's emergency close started")
        h.closer.wait()  # the emergency close (refused too) is done trying
        # a person closes the position by hand; reconciliation finds the symbol flat
        h.paper.create_order(BTC, "market", "sell", pos.contracts, None,
                             {"clientOrderId": "by-hand-close", "reduceOnly": True})
        assert h.exchange_position(BTC) is None
        h.sup.tell(BTC, Reconcile(reason="test"))
        wait_until(lambda: h.view(BTC).phase == "flat", message="flat after the manual close")
        view = h.view(BTC)
        assert view.quarantined and view.reconciled
        before = submitted(h)
        h.poll()
        assert h.signal(BTC, Side.LONG)
        h.idle(BTC)
        skipped = h.repo.read(queries.events, BTC, "SignalSkipped")
        assert len(skipped) == 1 and skipped[0]["data"]["reason"].startswith("quarantined"), skipped
        assert submitted(h) == before and h.exchange_position(BTC) is None
    finally:
        h.stop()
