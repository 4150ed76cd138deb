"""A strategy that raises stays inside its symbol and never touches the position.

Before this, an exception from `Strategy.on_price` crashed the symbol's actor. A strategy that
fails on a given price (a bug meeting odd data) fails again on the next one, so the actor
crash-looped: while it backed off nothing trailed its stop or took profit, and once the restarts
ran out the supervisor escalated and the emergency close sold the position at market, all for
an error in the code that only decides entries and exits.

Now the loop asks the strategy through this guard. When it raises:
- its signals are off for this symbol (no entry, no strategy exit); everything else goes on:
  the exchange stop, the trailing stop, the take-profit, reconciliation, external signals;
- one ERROR line in the symbol's log names the strategy, the price and the error with the file
  and line it came from; the journal gets `StrategyFailed`; the supervisor is told (an alert on
  the first failure of a streak, and the status dump shows the strategy off until it is back);
- after RETRY_FIRST_S a fresh instance (its state rebuilt from new prices, as after a restart)
  is tried again, journaled `StrategyRenewed` (a fresh instance that cannot be built is a
  failure like any other); each failure in a row doubles the wait, up to
  RETRY_MAX_S; a renewed strategy that runs STABLE_S without failing ends the streak.
The backtest passes a hook that stops the run instead (a report built on a strategy that was off
would look like a result).
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from strategies.base import Strategy
from trading.events import SignalRaised
from trading.model import Side
from trading.rules import doubling_wait

RETRY_FIRST_S = 60.0
"""The wait before a failed strategy's first renewal."""
RETRY_MAX_S = 3600.0
"""The longest wait between renewals (each failure in a row doubles it)."""
STABLE_S = 3600.0
"""A renewed strategy running this long without failing ends the streak (the next failure
alerts again and waits RETRY_FIRST_S)."""


@dataclass(frozen=True, slots=True)
class StrategyFailure:
    """What the guard tells its owner when the strategy raised."""

    strategy: str
    error: str
    """Exception type, message, and the file:line it was raised at."""
    price: Decimal
    streak: int
    """Failures in a row (1: the first of a streak, the one that alerts)."""
    retry_in_s: float | None
    """When a fresh instance is tried (None: never, the guard has no factory)."""


def error_text(exc: BaseException) -> str:
    """`ZeroDivisionError: division by zero (mean_reversion.py:88)`: one line, at most 300
    characters (an exception's own `str` may raise: its type is said instead)."""
    try:
        message = " ".join(str(exc).split())
    except Exception:  # noqa: BLE001 - a broken __str__ must not hide the failure
        message = "(its message could not be read)"
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return (text + where)[:300]


class StrategyGuard:
    def __init__(
        self,
        strategy: Strategy,
        *,
        renew: Callable[[], Strategy] | None,
        on_failed: Callable[[StrategyFailure], None],
        on_renewed: Callable[[str, int], None],
    ) -> None:
        """`renew`: a fresh instance for the same symbol (None: a failed strategy stays off).
        `on_failed` / `on_renewed(strategy name, failures in the streak)`: the owner's record
        of it (log, journal, supervisor); `on_failed` may raise to stop (the backtest)."""
        self.strategy = strategy
        self.name = str(getattr(strategy, "name", type(strategy).__name__))
        self._renew = renew
        self._on_failed = on_failed
        self._on_renewed = on_renewed
        self.off_until: float | None = None
        """Set while the strategy is off: when a fresh one is tried (inf: never)."""
        self.streak = 0
        self._renewed_at: float | None = None

    def on_price(self, price: Decimal, volume: Decimal | None, now: float,
                 position: Side | None) -> SignalRaised | None:
        if self.off_until is not None:
            if now < self.off_until or self._renew is None:
                return None
            try:
                fresh = self._renew()
            except Exception as exc:  # noqa: BLE001 - a factory that raises is a failure too
                self._failed(exc, price, now)  # (outside the guard it crash-looped the actor)
                return None
            self._renewed(fresh, now)
        try:
            signal = self.strategy.on_price(price, volume, now, position)
            if signal is not None and not isinstance(signal, SignalRaised):
                raise TypeError(f"on_price returned a {type(signal).__name__}, not a "
                                "SignalRaised or None")
            return signal
        except Exception as exc:  # noqa: BLE001 - contained: see the module docstring
            self._failed(exc, price, now)
            return None

    def _renewed(self, fresh: Strategy, now: float) -> None:
        self.strategy = fresh
        self.off_until = None
        self._renewed_at = now
        self._on_renewed(self.name, self.streak)

    def _failed(self, exc: Exception, price: Decimal, now: float) -> None:
        if self._renewed_at is not None and now - self._renewed_at >= STABLE_S:
            self.streak = 0  # the renewed one ran long enough: this is a new streak
        self._renewed_at = None  # (a failed build after this failure continues its streak)
        self.streak += 1
        wait = doubling_wait(RETRY_FIRST_S, self.streak - 1, RETRY_MAX_S)  # (no overflow)
        self.off_until = now + wait if self._renew is not None else float("inf")
        self._on_failed(StrategyFailure(
            strategy=self.name, error=error_text(exc), price=price, streak=self.streak,
            retry_in_s=wait if self._renew is not None else None))


class StrategyOff(Exception):
    """How an actor tells the supervisor its strategy failed (`str`: the line a person reads;
    `first`: the first failure of a streak, the one that alerts)."""

    def __init__(self, text: str, *, first: bool) -> None:
        super().__init__(text)
        self.first = first


def describe_failure(symbol: str, f: StrategyFailure) -> str:
    """The one line a person reads (log, alert, status)."""
    then = (f"a fresh one is tried in {f.retry_in_s:g} s" if f.retry_in_s is not None
            else "it stays off until the actor restarts")
    again = "" if f.streak == 1 else f" ({f.streak} failures in a row)"
    return (f"strategy {f.strategy} failed on price {f.price}{again}: {f.error}; its signals "
            f"are off for {symbol} (no entries, no strategy exits) and {then}; the position "
            "keeps its stop, trailing stop and take-profit")
