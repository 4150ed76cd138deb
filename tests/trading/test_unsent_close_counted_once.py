"""A close committed and never sent (the process killed between the commit of its intent and
its send) is found by the restart's reconciliation as an intent the exchange never had
(`IntentNotOnExchange`, `OrderFailed.unseen`). Nothing refused it: it is not a failed close of
the venue. Counted before its send (trading/lifecycle.py `send_close`, incident 2), each such
kill counted one more attempt: a bot killed at that moment again and again (a crash loop with
some other cause) walked the count to max_close_attempts and escalated (quarantine, emergency
close, alert) a symbol whose close the venue never once refused. A row of never-sent closes now
counts once: the first is a failure to close (counted, backed off), the next ones of the row
are not counted again. A close the venue refuses, or that was lost on its way in-process
(`OrderFailed.lost` without `unseen`), still counts every time and escalates.

The pure one-way core and its reconciliation, the kill being the state as committed."""

from __future__ import annotations

from decimal import Decimal as D

from trading.commands import Escalate, PlaceOrder
from trading.decide import SymbolCore
from trading.events import ExchangePosition, OrderFailed, Reconciled, TimerFired
from trading.model import OrderPurpose, Phase, Position, Side, SymbolState

NOW = 1_000_000.0
LISTED = ExchangePosition(side=Side.LONG, contracts=D("0.01"), entry_price=D("100"))


def _closing(core: SymbolCore) -> SymbolState:
    pos = Position(position_id="main-ab12-BTC-1e", side=Side.LONG, contracts=D("0.01"),
                   entry_price=D("100"), opened_at=NOW - 600)
    return SymbolState(symbol=core.rules.symbol, phase=Phase.CLOSING, position=pos,
                       order_seq=3, close_attempts=0, close_reason="stop_loss",
                       next_close_at=None)


def _closes(commands) -> list:
    return [c.order for c in commands
            if isinstance(c, PlaceOrder) and c.order.purpose is OrderPurpose.CLOSE]


def _kill_and_restart(core: SymbolCore, state: SymbolState, now: float):
    """The close intent is committed (in `state`), the process killed before its send; the
    restart's reconciliation finds the position listed and no such order; the retry is due
    after its backoff and is committed (then killed again)."""
    (intent,) = state.live_orders(OrderPurpose.CLOSE)
    d = core.decide(state, Reconciled(position=LISTED, price=D("99")), now)
    escalations = [c for c in d.commands if isinstance(c, Escalate)]
    left = d.state.live_orders(OrderPurpose.CLOSE)
    assert intent.client_order_id not in {o.client_order_id for o in left}
    later = core.decide(d.state, TimerFired(), now + 60)
    escalations += [c for c in later.commands if isinstance(c, Escalate)]
    return later.state, escalations, _closes(d.commands + later.commands)


def test_a_close_killed_before_its_send_again_and_again_never_escalates(core: SymbolCore):
    d = core.decide(_closing(core), Reconciled(position=LISTED, price=D("99")), NOW)
    state, now = d.state, NOW
    assert len(_closes(d.commands)) == 1 and state.close_attempts == 1
    counts = []
    for _ in range(3 * core.rules.risk.max_close_attempts):
        now += 120
        state, escalations, closes = _kill_and_restart(core, state, now)
        assert not escalations, f"escalated after {counts}: no close was ever refused"
        assert len(closes) == 1, "the close is sent again after each restart"
        counts.append(state.close_attempts)
    assert not state.quarantined and state.phase is Phase.CLOSING
    assert max(counts) <= 2, counts  # the row counts once (then the attempt being sent)


def test_refusals_after_a_row_of_unsent_closes_still_escalate(core: SymbolCore):
    d = core.decide(_closing(core), Reconciled(position=LISTED, price=D("99")), NOW)
    state, now = d.state, NOW
    for _ in range(4):
        now += 120
        state, _, _ = _kill_and_restart(core, state, now)
    escalated = False
    for _ in range(core.rules.risk.max_close_attempts + 1):
        (close,) = state.live_orders(OrderPurpose.CLOSE)
        now += 120
        d = core.decide(state, OrderFailed(client_order_id=close.client_order_id,
                                           error="refused", never_reached=False), now)
        escalated = any(isinstance(c, Escalate) for c in d.commands)
        if escalated:
            break
        state = core.decide(d.state, TimerFired(), now + 60).state
    assert escalated, "closes the venue refuses escalate whatever came before them"


def test_closes_lost_in_process_count_every_time(core: SymbolCore):
    d = core.decide(_closing(core), Reconciled(position=LISTED, price=D("99")), NOW)
    state, now = d.state, NOW
    for n in range(core.rules.risk.max_close_attempts):
        (close,) = state.live_orders(OrderPurpose.CLOSE)
        now += 120
        d = core.decide(state, OrderFailed(client_order_id=close.client_order_id,
                                           error="timed out", lost=True), now)
        if any(isinstance(c, Escalate) for c in d.commands):
            assert n + 1 == core.rules.risk.max_close_attempts
            return
        state = core.decide(d.state, TimerFired(), now + 60).state
    raise AssertionError("closes lost on their way never escalated")


def test_a_refusal_while_the_exchange_lists_no_position_ends_the_row_too(core: SymbolCore):
    """A close refused while the venue listed no position (`close_raced`) is a refusal like any
    other: it ends the row of never-sent closes, so the next never-sent close counts again (the
    grid's `_close_ended` ends it so; found by review s49: the one-way row survived it)."""
    d = core.decide(_closing(core), Reconciled(position=LISTED, price=D("99")), NOW)
    state, now = d.state, NOW + 120
    state, _, _ = _kill_and_restart(core, state, now)  # 1 unsent; the retry committed: 2
    assert state.close_attempts == 2
    (close,) = state.live_orders(OrderPurpose.CLOSE)
    now += 120
    d = core.decide(state, OrderFailed(client_order_id=close.client_order_id,
                                       error="reduce-only refused", never_reached=False,
                                       position_gone=True), now)
    state = core.decide(d.state, TimerFired(), now + 600).state  # the retry committed: 3
    assert state.close_attempts == 3 and len(state.live_orders(OrderPurpose.CLOSE)) == 1
    now += 1200
    state, escalations, _ = _kill_and_restart(core, state, now)
    counted = state.close_attempts - (1 if state.live_orders(OrderPurpose.CLOSE) else 0)
    assert escalations or counted == 3, (
        f"a never-sent close after a refusal was not counted: {counted} attempts counted")
