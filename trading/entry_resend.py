"""An external entry set aside by our own rate budget, sent again (the one-way core; pure).

An entry whose create gave way to an order report waiting in the actor's mailbox
(actors/command_executor.py `_not_sent`, `Preempted`; `OrderFailed.set_aside`) never reached
the venue. The strategy's next signal enters again (trading/order_reports.py `on_failed`: no
refusal counted), but an external signal is one-shot: its sender was told 202 and it was
journaled `SignalHandled`, and nothing was ever sent (live one-way chaos, bybit seed 4961: 13
in one run, e.g. signal live-bybit-265 -> entry main-ad9e-ETH-59e).

Such an entry is asked again after `RESEND_S` (the hedge grid's `retry_s` for a set-aside
opening order, trading/grid/handlers.py) on the next `TimerFired`, through `on_signal` as
the signal itself was: the entry gate is asked again (quarantine, kill switch, protections,
cooldown, the account's `admit`: max_open_positions, daily loss, margin) and a refusal is
journaled `SignalSkipped` as any. It is a new intent: a new order with a new client id,
journaled (`EntryRequested`) and committed before it is sent. Not when the signal expired
meanwhile (`SignalRaised.expires_at`: its own or signals.max_age_s), when an exit, another
external signal or one of the other side came meanwhile (the newer signal wins), nor after
`MAX_RESENDS` set-asides in a row: each of those journals `SignalSkipped` naming the signal.

Not persisted: a restart skips entries lost with the previous incarnation's mailbox by
design (actors/signal_intake.py `lost_signals`: prices have moved since), and a resend waits
only `RESEND_S`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from trading import journal_events as je
from trading.decision import Ctx
from trading.events import SignalRaised
from trading.frozen import replace
from trading.model import Phase, SymbolState

RESEND_S = 2.0
"""As the grid's `retry_s` (trading/grid/rules.py RETRY_S): long enough for the order reports
the entry gave way to be handled, short against a signal's life (signals.max_age_s, 30 s).
risk.entry_retry_s (10 s, doubling) is the wait after a venue's refusal, which this is not."""
MAX_RESENDS = 3
"""Set-asides in a row after which the signal is given up (journaled)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryResend:
    """The external signal whose entry is in flight (`order`) or waits to be sent again
    (`due_at`)."""

    signal: SignalRaised
    order: str | None = None
    """The client id of the entry it opened; None while it waits."""
    resends: int = 0
    """How often it was sent again so far."""
    due_at: float | None = None
    """When it is asked again; None while its entry is in flight."""


def opened(state: SymbolState, ev: SignalRaised) -> SymbolState:
    """`on_signal` opened an entry for `ev` (the last order of `state`): an external signal's
    is remembered, with the resends so far when it is this signal's resend."""
    pending = state.entry_resend
    if ev.signal_id is None:  # the strategy's own: it signals again by itself
        return state if pending is None else replace(state, entry_resend=None)
    resends = pending.resends if pending is not None \
        and pending.signal.signal_id == ev.signal_id else 0
    return replace(state, entry_resend=EntryResend(
        signal=ev, order=state.orders[-1].client_order_id, resends=resends))


def set_aside(state: SymbolState, client_order_id: str, ctx: Ctx) -> SymbolState:
    """The entry `client_order_id` was set aside, never sent, nothing filled (the symbol is
    flat again): its external signal is asked again after `RESEND_S`, or given up."""
    pending = state.entry_resend
    if pending is None or pending.order != client_order_id:
        return state
    if pending.resends >= MAX_RESENDS:
        return _give_up(state, pending, f"its entry was set aside for our own order reports "
                                        f"{pending.resends + 1} times in a row: given up", ctx)
    return replace(state, entry_resend=replace(pending, order=None,
                                               due_at=ctx.now + RESEND_S))


def superseded(state: SymbolState, ev: SignalRaised, ctx: Ctx) -> SymbolState:
    """A signal decided while an entry waits to be sent again: an exit, another external
    signal or one of the other side wins (the waiting one is given up, journaled); the
    strategy's signal of the same side leaves it waiting (decided as it would be)."""
    pending = state.entry_resend
    if pending is None or pending.due_at is None:
        return state
    if ev.side is pending.signal.side and ev.signal_id is None:
        return state
    newer = "an exit" if ev.side is None else (
        f"signal {ev.signal_id}" if ev.signal_id else f"the strategy's {ev.side.value} signal")
    return _give_up(state, pending, f"its entry was set aside for our own order reports, and "
                                    f"{newer} came before it was sent again", ctx)


def resend_due(state: SymbolState, ctx: Ctx,
               on_signal: Callable[[SymbolState, SignalRaised, Ctx], SymbolState]
               ) -> SymbolState:
    """On the timer: a waiting entry whose time came is asked again through `on_signal`
    (every gate as for the signal itself; a refusal journaled there), unless its signal
    expired meanwhile."""
    pending = state.entry_resend
    if pending is None or pending.due_at is None or ctx.now < pending.due_at:
        return state
    signal = pending.signal
    if signal.expires_at is not None and ctx.now >= signal.expires_at:
        return _give_up(state, pending, f"its entry was set aside for our own order reports, "
                                        f"and the signal expired at {signal.expires_at:.3f} "
                                        f"before it was sent again", ctx)
    again = pending.resends + 1
    state = replace(state, entry_resend=replace(pending, resends=again, due_at=None))
    why = (f"{signal.reason}; sent again ({again} of {MAX_RESENDS}) for signal "
           f"{signal.signal_id}: its entry was set aside for our own order reports")
    state = on_signal(state, replace(signal, reason=why), ctx)
    if state.phase is Phase.ENTERING and state.entry_resend is not None \
            and state.entry_resend.order is not None:
        return state  # sent: a new entry, a new client id
    return replace(state, entry_resend=None)  # refused: journaled as any signal's skip


def _give_up(state: SymbolState, pending: EntryResend, reason: str, ctx: Ctx) -> SymbolState:
    sid = pending.signal.signal_id
    ctx.record(je.SignalSkipped(side=pending.signal.side, reason=f"signal {sid}: {reason}",
                                signal_id=sid))
    return replace(state, entry_resend=None)
