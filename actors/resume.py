"""A person's resume, in the symbol's actor: it lifts the quarantine the person asked about,
never a newer one.

Found by review: the supervisor tells `Resume` to the running actor, and the actor lifted
whatever quarantine it found when it took the message. A symbol that escalated again between
the person's `bot.py resume` and that moment (a second resume queued behind the first, whose
lift let the close fail again until it escalated; or a new incarnation escalating before the
resume it is told after its start) had its NEW quarantine lifted by a resume nobody asked for
it: the close attempts started over without the person having seen that escalation. Now the
resume carries when it was asked and the actor when its quarantine began
(`DecisionLoop.quarantined_ns`, the same monotonic clock): a quarantine newer than the ask
stays, the person is answered "escalated again" (final: the control row is not handed over
again) and must resume once more. A restored quarantine is older than any resume of this
incarnation, so a resume of a crash-looped symbol still lifts it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.messages import Resume
from trading.events import QuarantineLifted

if TYPE_CHECKING:
    from actors.loop import DecisionLoop


def resume(loop: DecisionLoop, message: Resume) -> None:
    state = loop.state
    asked = message.asked_ns
    if state.quarantined and asked is not None and loop.quarantined_ns > asked:
        why = (f"{loop.symbol} escalated again after the resume was asked: "
               f"{state.quarantine_reason}")
        loop.log.warning("resume by {} not applied: {}; resume again to lift it", message.by,
                         why)
        if message.refused is not None:
            message.refused(why)
        return
    loop.apply(QuarantineLifted(by=message.by))
    if message.done is not None:  # committed: the person's resume may be answered
        message.done()
    loop.reconcile("resume")
