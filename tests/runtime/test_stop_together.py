"""An account's background loops (stop watch, sweep, funding, balance watch, market feed) stop
at once and `stop_together` returns only when every one of them has (runtime/stop_accounts.py).
The account's stop then stops the actors and returns, after which the runner releases the
account's locks: a loop still running past that could ask the exchange for orders, deliver to
stopped actors or act while another process already holds the account. Found by the shutdown
mutation audit: `stop_together` not joining its threads failed no test. Real threads; the loops
are stand-ins whose stop() the test holds."""

from __future__ import annotations

import threading

from loguru import logger

from runtime.stop_accounts import stop_together
from tests.support.waiting import wait_until


class HeldLoop:
    """A loop whose stop() takes until the test releases it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.stopped = threading.Event()

    def stop(self) -> None:
        self.entered.set()
        self.release.wait(30)
        self.stopped.set()


def test_loops_stop_at_once_and_the_call_waits_for_each():
    slow, quick = HeldLoop(), HeldLoop()
    quick.release.set()
    done = threading.Event()

    def run() -> None:
        stop_together([slow, None, quick], logger)  # a part the account did not build: None
        done.set()

    caller = threading.Thread(target=run, name="account-stop")
    caller.start()
    try:
        # at once: the quick loop stops while the slow one is still in its stop()
        wait_until(quick.stopped.is_set, timeout=10, message="the quick loop stopped")
        assert slow.entered.is_set() and not slow.stopped.is_set()
        caller.join(0.5)  # it must still be waiting for the slow loop
        assert not done.is_set(), "stop_together returned while a loop was still stopping"
        slow.release.set()
        wait_until(done.is_set, timeout=10, message="stop_together returned")
        assert slow.stopped.is_set()
    finally:
        slow.release.set()
        caller.join(10)
