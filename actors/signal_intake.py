"""Signals reaching a symbol's decision loop (actors/loop.py), as the journal records them: an
external signal (decided, or skipped once expired), signals lost with a previous incarnation's
mailbox (entries skipped, exits carried out after the restart), and the strategy's failures and
renewals (actors/strategy_guard.py).

Functions of the loop, as actors/funding_feed.py `book` is: each journals through the loop's
repository and decides through its `apply`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from actors.correlation import new_correlation_id
from actors.messages import ExternalSignal
from actors.strategy_guard import StrategyFailure, describe_failure
from trading.commands import JournalEntry
from trading.events import SignalRaised
from trading.model import Phase

if TYPE_CHECKING:
    from actors.loop import DecisionLoop

LOST = "arrived while the actor was down or restarting"


def lost_signals(loop: DecisionLoop) -> list[ExternalSignal]:
    """Signals that reached the journal but died with the previous actor's mailbox (a crash,
    a kill). An entry is recorded as skipped: prices have moved since. An exit is returned, to
    be carried out once the restart has reconciled (`external(..., late=True)`): its sender was
    told 202, and skipping it would leave open the position it asked closed (found by a paper
    chaos run: 31 of 56 lost exits had a position open, which stayed open up to 34 s, until
    another signal closed it). Only its own `expires_at` ends it, as behind a busy actor."""
    exits: list[ExternalSignal] = []
    for data in loop.repo.unhandled_signals(loop.symbol):
        expires_at = data.get("expires_at")
        late = isinstance(expires_at, int | float) and loop.clock() >= expires_at
        if data.get("side") == "exit" and data.get("signal_id") and not late:
            exits.append(ExternalSignal(side=None, signal_id=data["signal_id"],
                                        reason=data.get("reason") or "external",
                                        expires_at=expires_at))
            continue
        reason = LOST + ("; it expired meanwhile" if late else "")
        loop.repo.record(loop.symbol, "SignalSkipped", {**data, "reason": reason},
                         correlation_id=data["signal_id"])
        loop.log.warning("signal {} skipped: it arrived while the actor was down",
                         data["signal_id"])
    return exits


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


def external(loop: DecisionLoop, message: ExternalSignal, *, late: bool = False) -> None:
    """An external signal; `SignalHandled` is journaled in the same transaction as the first
    decision it causes (correlated by the signal id), or on its own if nothing changed. `late`:
    an exit lost with the previous incarnation's mailbox (`lost_signals`), said so in its
    `SignalHandled`."""
    sid = message.signal_id
    if message.expires_at is not None and loop.clock() >= message.expires_at:
        expired(loop, message)
        return
    if message.side is None and sid and getattr(loop.state, "phase", None) is Phase.ENTERING:
        loop.waiting_exits.append((message, late))
        why = f"{LOST}; " if late else ""
        loop.repo.record(loop.symbol, "SignalWaiting",
                         {"signal_id": sid, "side": "exit",
                          "reason": f"{why}waits for the entry in flight"}, correlation_id=sid)
        loop.log.info("signal {} exit {}waits for the entry in flight", sid, why)
        return
    data: dict[str, Any] = {"signal_id": sid}
    if late:
        data["reason"] = f"{LOST}; carried out after the restart"
        loop.log.info("signal {} exit {}: carrying it out now", sid, LOST)
    handled = (JournalEntry(type="SignalHandled", data=data),) if sid else ()
    signal = SignalRaised(side=message.side, reason=message.reason, signal_id=sid,
                          size_usdt=message.size_usdt, priced_at=loop.priced_at,
                          expires_at=message.expires_at)
    if loop.apply(signal, correlation_id=sid or "", also=handled) or not sid:
        return
    loop.repo.record(loop.symbol, "SignalHandled", data, correlation_id=sid)


def exits_after_entry(loop: DecisionLoop) -> None:
    """Exits that waited for an entry in flight (`external`), decided once it ended: on the
    position it opened, or skipped as flat. Found by a paper chaos run: an exit arriving while
    the entry's fill was not yet reported was skipped ('the entry is still in flight'), and the
    position it asked closed opened right after and stayed open (25 times in 10 minutes). While
    it waits it is journaled `SignalWaiting`, not handled: killed meanwhile, it is a signal
    lost with the mailbox, which the successor carries out (`lost_signals`)."""
    if not loop.waiting_exits or getattr(loop.state, "phase", None) is Phase.ENTERING:
        return
    waiting, loop.waiting_exits = loop.waiting_exits, []
    for message, late in waiting:
        external(loop, message, late=late)


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
