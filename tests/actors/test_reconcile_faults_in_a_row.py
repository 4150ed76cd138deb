"""The core escalates a closing symbol after `max_close_attempts` failed reconciliations IN A
ROW (trading/lifecycle.py `reconcile_failed`): the count it is told must start again after a
reconciliation that succeeded (actors/reconcile_retry.py `succeeded`).

Found by a mutation audit (session 41): with `faults` left out of `succeeded`'s reset, no test
failed. Failures weeks apart would then add up, and a symbol whose close met one more failure
would be quarantined and emergency-closed as if its reconciliation had been failing all along.
The real ReconcileRetry, as the loop drives it (actors/loop.py)."""

from __future__ import annotations

from loguru import logger

from actors.reconcile_retry import ReconcileRetry


def test_a_successful_reconciliation_starts_the_count_in_a_row_again() -> None:
    retry = ReconcileRetry(lambda n: 2.0 ** n)
    bug = TypeError("an order row the reader cannot take")  # not temporary: counted
    told = [retry.failed(bug, "timer", now, logger) for now in (10.0, 20.0)]
    assert [ev.failures for ev in told if ev is not None] == [1, 2]
    retry.succeeded()
    assert retry.due(20.0)  # and its wait is over: the next trigger may reconcile at once
    again = retry.failed(bug, "timer", 1_000_000.0, logger)
    assert again is not None and again.failures == 1, again
    assert retry.delay == 2.0  # the first failure's backoff, not the third's
