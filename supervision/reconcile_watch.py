"""The alert for a position the bot can no longer check against the exchange.

A reconciliation that fails (the exchange unreachable, a position or order answer that cannot be
read, answers that contradict each other while they are read) keeps the position tracked and its
stop in place and is retried (actors/reconcile_retry.py): nothing is closed or adopted on a bad
answer. Until this watch, a failure that lasted was only a WARNING per retry: nobody was told
that a position had not been checked for minutes. Issue 12 asks for an alert when contradictory
answers persist.

Each status interval the account's status (runtime/account.py) hands its actor lines to
`ReconcileWatch.observe`. A symbol holding a position whose actor says it is not reconciled
starts an episode; once the episode outlasts `grace_s`, one alert (`reconcile_failing`) names
every such symbol. It is not repeated while the episode lasts; one WARNING says when the symbol
is reconciled again (or holds nothing any more). A symbol that is quarantined or not running is
the supervisor's business (escalation and restart alerts), not this watch's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from supervision.coverage import Episode, clock_stepped

GRACE_S = 120.0
"""Seconds a position may go unreconciled before the alert: the periodic reconciliation runs
every 30 s and a failed one is retried within 5 s while its failures are temporary, so this is
well over 20 failed tries."""


def unchecked(actors: Iterable[dict[str, Any]]) -> list[str]:
    """Symbols running with a position that their actor has not reconciled."""
    return [a["symbol"] for a in actors
            if a.get("position") and a.get("state") == "running" and not a.get("reconciled")]


def shown_unchecked(actors: Iterable[Any]) -> list[str]:
    """`unchecked` as the status's readers (the table, /status, the page) name them: found by
    review, such a line read exactly like a checked one. A status without the field (written by
    an older version, or by hand) is not judged."""
    return [a["symbol"] for a in actors if isinstance(a, dict) and a.get("position")
            and a.get("state") == "running" and a.get("reconciled") is False]


class ReconcileWatch:
    """One account's unreconciled-position episodes; `observe` once per status interval."""

    def __init__(self, *, alerts: Any, logger: Any, grace_s: float = GRACE_S) -> None:
        self.alerts = alerts
        self.log = logger
        self.grace_s = grace_s
        self._episodes: dict[str, Episode] = {}
        self._last_now: float | None = None

    def observe(self, status: dict[str, Any], now: float) -> None:
        last, self._last_now = self._last_now, now
        clock_stepped(self._episodes.values(), last, now)
        now_unchecked = set(unchecked(status["actors"]))
        for symbol in [s for s in self._episodes if s not in now_unchecked]:
            episode = self._episodes.pop(symbol)
            if episode.alerted:
                self.log.bind(symbol=symbol).warning(
                    "reconciled again after {:.0f}s unchecked", now - episode.since)
        for symbol in now_unchecked:
            self._episodes.setdefault(symbol, Episode(since=now))
        due = sorted(s for s, ep in self._episodes.items()
                     if not ep.alerted and now - ep.since > self.grace_s)
        if not due:
            return
        longest = max(now - self._episodes[s].since for s in due)
        message = (f"{', '.join(due)}: position not reconciled with the exchange for "
                   f"{longest:.0f}s (its answers fail or contradict each other; the position "
                   f"and its stop are kept, retried)")
        self.alerts.alert(due[0] if len(due) == 1 else None, "reconcile_failing", message,
                          symbols=due, grace_s=self.grace_s)
        for symbol in due:
            self._episodes[symbol].alerted = True
