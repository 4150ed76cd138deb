"""The stop-coverage alert (INCIDENTS.md rule 5: health reports trailing-stop coverage; anything
below 100 % of open positions is an alert).

Each status interval the account's status (runtime/account.py) hands the freshly built actor
lines to `StopCoverageWatch.observe`. A position (a one-way position, or one hedge-grid leg) seen
without its acknowledged exchange stop starts an *episode*; once the episode outlasts the grace,
one alert goes out through the account's `Alerts` (the ERROR line plus the `alert_command` /
`alert_webhook` hooks, `"account"` in the payload with several accounts), naming every position
whose grace ran out at that look. It is not repeated while the episode lasts. When every alerted
position has its stop again (or is closed) one WARNING line says so, and one more says when the
coverage is back to 100 %.

The grace (`stop_grace_s`) covers a normal placement or move: the entry fill is followed by the
stop request (up to one request timeout), a refused or lost stop is retried every stop retry
interval at the next timer, and a stop removed on the venue is found within the stop watch's
interval. Three such rounds are allowed before it is an alert.

With ``exchange.stop_mode = "bot"`` a one-way position has no exchange stop by design: the bot
holds the stop level and closes at it, and the position is unprotected only while the bot is
down (when no alert can come from the bot anyway). Coverage still counts exchange stops only (so
it shows 0 % for such positions), but such a position is not alerted while the bot holds its
level; one without any stop level is. Hedge-grid legs always rest a stop on the exchange.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

RETRY_ROUNDS = 3
"""Stop retries / stop-watch rounds inside the grace."""


def stop_grace_s(
    *, request_timeout_s: float, stop_retry_s: float, stop_check_interval_s: float,
    heartbeat_interval_s: float,
) -> float:
    """Seconds a position may be without its exchange stop before the alert: one request
    timeout, then `RETRY_ROUNDS` x (the slower of the stop retry and the stop watch, plus the
    timer that drives the retry). 10 + 3 x (2 + 1) = 19 s with the shipped settings."""
    slowest = max(stop_retry_s, stop_check_interval_s)
    return request_timeout_s + RETRY_ROUNDS * (slowest + heartbeat_interval_s)


@dataclass(slots=True)
class Episode:
    """Since when a condition has lasted, and whether its alert went out (here and in
    supervision/reconcile_watch.py)."""

    since: float
    alerted: bool = False


def clock_stepped(episodes: Iterable[Episode], last: float | None, now: float) -> None:
    """`now` is the run loop's wall clock. A look earlier than the last one (the clock stepped
    back: NTP, a VM restore) moves every episode's start back by the step: a condition must
    not wait the step out on top of its grace."""
    if last is not None and now < last:
        for episode in episodes:
            episode.since -= last - now


def positions(actors: Iterable[dict[str, Any]], bot_side_stops: bool) -> Iterator[tuple[str, bool]]:
    """(label, covered) of every open position in the status's actor lines: one per one-way
    position, one per hedge-grid leg. `covered`: its exchange stop is acknowledged (with
    `bot_side_stops`, a one-way position whose stop level the bot holds counts too)."""
    for actor in actors:
        position = actor.get("position")
        if not position:
            continue
        symbol = actor["symbol"]
        legs = position.get("legs")
        if legs:
            for leg in legs:
                yield f"{symbol} {leg['side']}", bool(leg["protected"])
            continue
        held = bot_side_stops and actor.get("stop_price") is not None
        yield f"{symbol} {position['side']}", bool(actor["protected"]) or held


class StopCoverageWatch:
    """One account's unprotected-position episodes; `observe` once per status interval."""

    def __init__(
        self, *, alerts: Any, logger: Any, grace_s: float, bot_side_stops: bool = False
    ) -> None:
        self.alerts = alerts
        self.log = logger
        self.grace_s = grace_s
        self.bot_side_stops = bot_side_stops
        self._episodes: dict[str, Episode] = {}
        self._last_now: float | None = None
        self.alerted_since_clear = False
        """An alert went out and the coverage has not been back to 100 % since."""

    def observe(self, status: dict[str, Any], now: float) -> None:
        """Look at one account status (`build_status`'s ``actors`` and ``health``)."""
        self._clock_step(now)
        seen = dict(positions(status["actors"], self.bot_side_stops))
        missing = [label for label, covered in seen.items() if not covered]
        self._end_episodes(set(missing), seen, now)
        for label in missing:
            self._episodes.setdefault(label, Episode(since=now))
        due = [
            label for label, ep in self._episodes.items()
            if not ep.alerted and now - ep.since > self.grace_s
        ]
        coverage = status["health"]["ts_coverage"]
        if due:
            self._alert(due, coverage, now)
        if not missing and self.alerted_since_clear:
            self.alerted_since_clear = False
            if coverage >= 1:
                self.log.warning("stop coverage back to 100 % ({} open positions)", len(seen))
            else:  # stop_mode = "bot": the others' stops are held by the bot
                self.log.warning("every open position has its stop again (ts_coverage {:.0%}: "
                                 "the other stops are held by the bot, stop_mode = \"bot\")",
                                 coverage)

    def _clock_step(self, now: float) -> None:
        last, self._last_now = self._last_now, now
        clock_stepped(self._episodes.values(), last, now)

    def _end_episodes(self, missing: set[str], seen: dict[str, bool], now: float) -> None:
        for label in [label for label in self._episodes if label not in missing]:
            episode = self._episodes.pop(label)
            if episode.alerted:
                how = "has its stop again" if label in seen else "is closed"
                self.log.warning("{} {} after {:.0f}s unprotected", label, how,
                                 now - episode.since)

    def _alert(self, due: list[str], coverage: float, now: float) -> None:
        longest = max(now - self._episodes[label].since for label in due)
        message = (
            f"stop coverage {coverage:.0%}: {', '.join(due)} without an exchange stop for "
            f"{longest:.0f}s (more than the {self.grace_s:.0f}s a placement may take)"
        )
        symbols = sorted({label.rsplit(" ", 1)[0] for label in due})
        self.alerts.alert(
            symbols[0] if len(symbols) == 1 else None, "unprotected", message,
            positions=due, symbols=symbols, ts_coverage=coverage,
            grace_s=self.grace_s,
        )
        for label in due:
            self._episodes[label].alerted = True
        self.alerted_since_clear = True
