"""Stopping every account of the process at once, each on its own thread, so that one slow
account does not hold the others' shutdown back; what did not stop in time is named in one
line. Split out of runtime/account.py (AccountRuntime.stop is what each thread runs).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runtime.account import AccountRuntime

STOP_ALL_TIMEOUT_S = 60.0
"""How long `stop_all` waits for the accounts to stop."""


def stop_all(accounts: list[AccountRuntime], log: Any,
             timeout_s: float = STOP_ALL_TIMEOUT_S) -> list[str]:
    """Stop every account at once (each on its own thread), so one slow account does not hold
    the others' shutdown back. Returns the accounts whose stop() had not returned: their actors
    or an emergency close may still reach the exchange (the runner keeps the locks)."""
    results: dict[str, list[str]] = {}

    def stop(account: AccountRuntime) -> None:
        try:
            results[account.name] = account.stop()
        except Exception as exc:  # noqa: BLE001 - the other accounts still stop
            log.opt(exception=exc).error("account {} did not stop cleanly: {}", account.name, exc)

    threads = [threading.Thread(target=stop, args=(a,), name=f"stop-{a.name}") for a in accounts]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout_s
    for t in threads:
        t.join(max(deadline - time.monotonic(), 0.1))
    # a stop that returns now writes into `results`: report from one copy, taken after the
    # threads' liveness, so each account is in one or the other (found by review: iterating
    # `results` itself raised "dictionary changed size during iteration" out of the shutdown)
    alive = [t.is_alive() for t in threads]
    for name, stuck in dict(results).items():
        if stuck:
            log.error(
                "actors did not stop in time{}: {}",
                "" if len(accounts) == 1 else f" in {name}",
                ", ".join(stuck),
            )
    for account, running in zip(accounts, alive, strict=True):
        if running:  # its stop() had not returned: nothing above names what is stuck
            log.error(
                "account {} did not stop within {:g} s (an actor or an emergency close still "
                "running); its positions keep their exchange stops, the next start reconciles",
                account.name, timeout_s)
    return [account.name for account, running in zip(accounts, alive, strict=True) if running]


def close_all(accounts: list[AccountRuntime], log: Any) -> None:
    """Close every account at once (its exchange, then its database: the writer commits what is
    queued, up to 30 s). One after the other, a stalled disk under N accounts took N x 30 s: a
    worker of two such accounts outlasted the parent's wait before SIGKILL (found by review).
    Returns once every close returned (each is bounded by its writer's wait)."""

    def close(account: AccountRuntime) -> None:
        try:
            account.close()
        except Exception as exc:  # noqa: BLE001 - close the others too
            log.opt(exception=exc).error("closing account {} failed: {}", account.name, exc)

    threads = [threading.Thread(target=close, args=(a,), name=f"close-{a.name}")
               for a in reversed(accounts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def stop_together(parts: list[Any], log: Any) -> None:
    """Stop an account's background loops (stop watch, sweep, funding, market feed) at once, each
    on its own thread: each stop joins its loop up to 10 s, and one after the other a loop hung
    in an exchange call held every later loop and the actors' own stop back (found by review: a
    stop watch hung in its order lookup kept the feed polling 10 s after SIGTERM, with every loop
    hung up to 40 s of the account's 60 s passed before an actor heard of the stop)."""

    def stop(part: Any) -> None:
        try:
            part.stop()
        except Exception as exc:  # noqa: BLE001 - the others and the actors still stop
            log.opt(exception=exc).error("{} did not stop cleanly: {}", type(part).__name__, exc)

    threads = [threading.Thread(target=stop, args=(p,), name=f"stop-{type(p).__name__}")
               for p in parts if p is not None]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
