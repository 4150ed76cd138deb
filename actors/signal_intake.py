"""Signals reaching a symbol's decision loop (actors/loop.py), as the journal records them: an
external signal (decided, or skipped once expired), signals lost with a previous incarnation's
mailbox (skipped), and the strategy's failures and renewals (actors/strategy_guard.py).

Functions of the loop, as actors/funding_feed.py `book` is: each journals through the loop's
repository and decides through its `apply`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.correlation import new_correlation_id
from actors.messages import ExternalSignal
from actors.strategy_guard import StrategyFailure, describe_failure
from trading.commands import JournalEntry
from trading.events import SignalRaised

if TYPE_CHECKING:
    from actors.loop import DecisionLoop


def skip_lost_signals(loop: DecisionLoop) -> None:
    """Signals that reached the journal but died with the previous actor's mailbox: prices
    have moved since, so they are recorded as skipped rather than applied late."""
    for data in loop.repo.unhandled_signals(loop.symbol):
        loop.repo.record(
            loop.symbol,
            "SignalSkipped",
            {**data, "reason": "arrived while the actor was down or restarting"},
            correlation_id=data["signal_id"],
        )
        loop.log.warning("signal {} skipped: it arrived while the actor was down",
                         data["signal_id"])


def strategy_failed(loop: DecisionLoop, failure: StrategyFailure) -> None:
    loop.log.error("{}", describe_failure(loop.symbol, failure))
    loop.repo.record(loop.symbol, "StrategyFailed",
                     {"strategy": failure.strategy, "error": failure.error,
                      "price": str(failure.price), "failures_in_a_row": failure.streak,
                      "retry_in_s": failure.retry_in_s},
                     correlation_id=new_correlation_id())
    if loop.strategy_hook is not None:
        loop.strategy_hook(failure)


def strategy_renewed(loop: DecisionLoop, name: str, streak: int) -> None:
    loop.log.warning("strategy {} renewed after {} failure(s) in a row: its signals are on "
                     "again", name, streak)
    loop.repo.record(loop.symbol, "StrategyRenewed",
                     {"strategy": name, "failures_in_a_row": streak},
                     correlation_id=new_correlation_id())
    if loop.strategy_hook is not None:
        loop.strategy_hook(None)


def external(loop: DecisionLoop, message: ExternalSignal) -> None:
    """An external signal; `SignalHandled` is journaled in the same transaction as the first
    decision it causes (correlated by the signal id), or on its own if nothing changed."""
    sid = message.signal_id
    if message.expires_at is not None and loop.clock() >= message.expires_at:
        expired(loop, message)
        return
    handled = (JournalEntry(type="SignalHandled", data={"signal_id": sid}),) if sid else ()
    signal = SignalRaised(side=message.side, reason=message.reason, signal_id=sid,
                          size_usdt=message.size_usdt, priced_at=loop.priced_at)
    if loop.apply(signal, correlation_id=sid or "", also=handled) or not sid:
        return
    loop.repo.record(loop.symbol, "SignalHandled", {"signal_id": sid}, correlation_id=sid)


def expired(loop: DecisionLoop, message: ExternalSignal) -> None:
    """A signal whose `expires_at` passed while it waited in the mailbox (behind a
    reconciliation, say): the receiver checked it on arrival, but it must not trade late."""
    side = "exit" if message.side is None else message.side.value
    reason = f"expired at {message.expires_at:.3f} before the actor could handle it"
    if message.max_age_s is not None:  # no expires_at of its own (or a later one)
        reason = (f"older than signals.max_age_s ({message.max_age_s:g}s) before the actor "
                  f"could handle it (a busy actor); not traded")
    loop.repo.record(loop.symbol, "SignalSkipped",
                     {"signal_id": message.signal_id, "side": side, "reason": reason},
                     correlation_id=message.signal_id or new_correlation_id())
    loop.log.warning("signal {} {} skipped: {}", message.signal_id, side, reason)
