"""A paper account killed after it applied a `bot.py resume` and before the resumed actor
stored the lifted quarantine (tests/runtime/test_resume_answered_once_stored.py runs it as a
subprocess and SIGKILLs it).

BTC starts quarantined by an open escalation (stored before the start, as a crash loop leaves
it). Its actor is then held inside an exchange call of a reconciliation (a slow venue), so the
Resume the supervisor tells it waits in its mailbox; the queued resume row is applied by the
account's run-loop step, and "APPLIED" is printed once that step returned: the moment the
parent kills the process.

    python -m tests.runtime.resume_victim CONFIG
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

from loguru import logger

from actors.messages import Reconcile
from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.exchanges import build_paper
from storage import control
from tests.support.faulty_exchange import FaultyExchange
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"
REASON = "restarted 3 times in 60s; last: bug"
ARMED = threading.Event()
HELD = threading.Event()


def hold_the_actor(name: str, args: tuple, kwargs: dict) -> None:
    if ARMED.is_set() and threading.current_thread().name.startswith("SymbolActor"):
        HELD.set()
        threading.Event().wait()  # the kill comes while the actor waits on the exchange


def main(config: str) -> None:
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    settings = load_settings(Path(config))

    def build(s: Any, data_dir: Path) -> FaultyExchange:
        fx = FaultyExchange(build_paper(s, data_dir))
        for name in ("fetch_positions", "fetch_open_orders"):
            fx.before[name] = hold_the_actor
        return fx

    account = AccountRuntime(settings.account_settings()[0], settings.data_dir_path(),
                             logger=logger, tagged=True, build_exchange_=build)
    account.open()
    repo = account.repo
    assert repo is not None
    repo.quarantine(BTC, REASON, correlation_id="crash-loop")
    repo.add_escalation(BTC, REASON, 3, "bug")
    account.build()
    account.start()
    assert account.sup is not None

    def view() -> Any:
        published = account.views.get(BTC)
        return None if published is None else published.view()

    wait_until(lambda: (v := view()) is not None and v.reconciled and v.quarantined,
               timeout=60, message="BTC running, quarantined")
    ARMED.set()
    sup = account.sup  # told once its child runs (its start may not be reported yet)
    wait_until(lambda: sup.tell(BTC, Reconcile(reason="slow venue")), timeout=60,
               message="the reconcile told to the running actor")
    wait_until(HELD.is_set, timeout=60, message="the actor held in an exchange call")
    control.request(repo, "resume", BTC, by="cli")
    account.apply_controls()  # the run loop's step
    print("APPLIED", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(*sys.argv[1:])
