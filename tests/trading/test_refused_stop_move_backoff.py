"""A stop move the venue refuses for a lasting reason was sent again at every price and every
heartbeat: one refused order per tick for as long as the refusal lasted (a trigger the venue
says would trigger at once because its mark price lags the last price, a minimum it keeps
refusing), eating the order rate budget other symbols' stops need. Found by review: refused
placements back off (`RiskRules.stop_retry`, tests/trading/test_refused_stop_backoff.py) but a
refused move, whose old stop still rests, never counted. Now a refused move waits as a refused
stop does (fast at first, then doubling up to stop_retry_max_s); the old stop keeps protecting
and the trailing trigger crossed still closes the position meanwhile. The quiet band agrees
with the full path throughout (tests/trading/test_quiet_band.py's property covers it too)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.test_quiet_band import Venue
from trading.commands import AmendStop, Command, PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    Event,
    ExchangeOrder,
    ExchangePosition,
    OrderCanceled,
    PriceTicked,
    Reconciled,
    SignalRaised,
    StopAmended,
    StopAmendFailed,
    TimerFired,
)
from trading.model import Phase, Side


def _moves(sc: Venue) -> int:
    return sum(1 for d in sc.decisions for c in d.commands
               if isinstance(c, PlaceOrder) and c.order.stop_price is not None
               and c.order.replaces is not None)


def _placements(sc: Venue) -> int:
    """Stops sent after the first one that are no move (a missing stop placed again)."""
    return sum(1 for d in sc.decisions for c in d.commands
               if isinstance(c, PlaceOrder) and c.order.stop_price is not None
               and c.order.replaces is None) - 1


def _opened(quiet: bool) -> Venue:
    sc = Venue(SymbolCore(make_rules()), quiet_prices=quiet)
    sc.send(PriceTicked(price=D("100")), dt=1)
    sc.send(SignalRaised(side=Side.LONG), dt=1)
    assert sc.state.stop_price == D("99")
    return sc


def test_a_refused_stop_move_is_not_sent_again_at_every_price():
    for quiet in (False, True):
        sc = _opened(quiet)
        sc.refusing = True
        sc.send(PriceTicked(price=D("102")), dt=1)  # trigger 101.6: the move is refused
        assert _moves(sc) == 1
        for _ in range(10):  # ten prices and heartbeats within a second, the move still due
            sc.send(PriceTicked(price=D("101.9")), dt=0.05)
            sc.send(TimerFired(), dt=0.05)
        assert _moves(sc) == 1, f"a refused move sent again at every price ({quiet=})"
        sc.send(PriceTicked(price=D("101.9")), dt=2)  # stop_retry_s later: tried again
        assert _moves(sc) == 2
        sc.refusing = False
        sc.send(TimerFired(), dt=2.5)
        assert _moves(sc) == 3 and sc.state.stop_price == D("101.6")


def test_refused_moves_back_off_and_the_trailing_trigger_still_closes():
    sc = _opened(False)
    sc.refusing = True
    sc.send(PriceTicked(price=D("102")), dt=1)
    for _ in range(3600):  # an hour of heartbeats, the venue refusing every move
        sc.send(TimerFired(), dt=1)
    assert _moves(sc) < 80, f"{_moves(sc)} refused stop moves in an hour"
    assert sc.state.stop_price == D("99")  # the old stop still rests and protects
    sc.send(PriceTicked(price=D("101.5")), dt=1)  # through the trigger 101.6
    assert sc.state.phase in (Phase.CLOSING, Phase.FLAT)



class AmendingVenue(Venue):
    """Answers an amendment too: refused while `refusing` (the fallback stop is refused as
    well), else amended."""

    def _execute(self, cmd: Command) -> list[Event]:
        if isinstance(cmd, AmendStop):
            if self.refusing:
                return [StopAmendFailed(client_order_id=cmd.client_order_id,
                                        stop_price=cmd.stop_price, error="InvalidOrder")]
            return [StopAmended(client_order_id=cmd.client_order_id, stop_price=cmd.stop_price)]
        return super()._execute(cmd)


def test_an_amended_move_after_refusals_starts_the_count_again():
    sc = AmendingVenue(SymbolCore(make_rules(amend_stops=True)), quiet_prices=True)
    sc.send(PriceTicked(price=D("100")), dt=1)
    sc.send(SignalRaised(side=Side.LONG), dt=1)
    sc.refusing = True
    sc.send(PriceTicked(price=D("102")), dt=1)  # the amend and its fallback are refused
    assert sc.state.stop_refusals == 1 and sc.state.stop_price == D("99")
    sc.refusing = False
    sc.send(TimerFired(), dt=2.5)  # the retry amends the resting stop
    assert sc.state.stop_price == D("101.6") and sc.state.stop_refusals == 0


def test_a_stop_removed_after_refused_moves_is_retried_fast():
    """Refused moves count toward the wait of the next move only: the stop removed afterwards
    is re-placed at once and, refused, retried after stop_retry_s (the fast retries that fit
    in the coverage alert's grace), not after the doubled wait the moves had reached."""
    sc = _opened(False)
    sc.refusing = True
    sc.send(PriceTicked(price=D("102")), dt=1)
    for _ in range(300):  # five minutes of refused moves: the wait has doubled to its cap
        sc.send(TimerFired(), dt=1)
    assert sc.state.stop_refusals > 6
    old = sc.state.active_stop()
    assert _placements(sc) == 0
    sc.send(OrderCanceled(client_order_id=old.client_order_id), dt=0.5)  # removed on the venue
    assert _placements(sc) == 1  # re-placed at once (refused)
    sc.send(TimerFired(), dt=2.5)
    assert _placements(sc) == 2, "the missing stop waited for the moves' backoff"


def test_no_stop_move_is_sent_while_the_exchange_lists_the_other_side():
    """A move refused because the long was flipped to a short by hand (a reduce-only sell the
    venue refuses on a short) was retried on the heartbeat while the symbol sat quarantined
    for a person (SIDE_MISMATCH), where no order of ours for our side is sent."""
    sc = _opened(False)
    sc.refusing = True
    sc.send(PriceTicked(price=D("102")), dt=1)  # the move is refused: the long was flipped
    moves = _moves(sc)
    pos = sc.state.position
    sc.send(Reconciled(position=ExchangePosition(side=Side.SHORT, contracts=pos.contracts * 2,
                                                 entry_price=D("102")),
                       orders={o.client_order_id: ExchangeOrder(
                           client_order_id=o.client_order_id, exchange_id=o.exchange_id,
                           status="open", filled=D(0), average=None, fee=D(0))
                           for o in sc.state.orders}, price=D("102")), dt=1)
    assert sc.state.quarantined
    for _ in range(120):  # two minutes of heartbeats
        sc.send(TimerFired(), dt=1)
    assert _moves(sc) == moves, "stop moves for our side sent while the sides differ"
