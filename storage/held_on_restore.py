"""A symbol a person has to resume stays stopped when its stored quarantine is lost.

A quarantine lives in `actor_state.quarantined` (and the hedge grid's `grid_state` document).
An escalation that stops a symbol (a close that failed too often, a crash loop, unreadable
rows) also leaves an `escalations` row open until a person resumes the symbol (`bot.py resume`
resolves it first, then lifts the quarantine). With the state row gone (deleted by hand, lost,
a symbol traded by an earlier run under the same data dir) the restore read "not quarantined":
the symbol took new entries again while its escalation stood open, and its own close retries
ran again beside the emergency close that owns the position.

`Repository.load` therefore restores such a symbol quarantined, with its newest open
escalation's reason (the reason an escalation quarantines with), and says so in one warning
line naming the escalation row. One indexed lookup (the symbol's escalations are few).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from loguru import logger

from storage.models import EscalationRow
from storage.restore import utf8_rows

OPEN_ESCALATION = (
    "SELECT id, reason FROM escalations WHERE symbol=? AND resolved_at IS NULL "
    "ORDER BY id DESC LIMIT 1"
)


def quarantined_if_escalated(conn: Any, symbol: str, state: Any) -> Any:
    """`state` (either style's), quarantined when the symbol has an open escalation and the
    stored state does not say so; unchanged otherwise (nearly always)."""
    if state.quarantined:
        return state
    where = (EscalationRow.symbol == symbol) & EscalationRow.resolved_at.is_null()
    with utf8_rows(EscalationRow, where, symbol):
        row = conn.execute(OPEN_ESCALATION, (symbol,)).fetchone()
    if row is None:
        return state
    row_id, reason = row
    reason = str(reason) if reason is not None else "escalated"
    logger.warning("{}: stored state is not quarantined, but escalation row {} is still open "
                   "({}); restored quarantined until a person resumes it", symbol, row_id,
                   reason)
    return replace(state, quarantined=True, quarantine_reason=reason)
