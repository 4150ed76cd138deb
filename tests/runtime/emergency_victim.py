"""A paper account killed in the middle of its emergency close (tests/runtime/
test_emergency_resume.py runs it as a subprocess and SIGKILLs it).

It opens a long on BTC, lets it be protected, then escalates the symbol as the core does when
its closes keep failing. The emergency close's first exchange call (reading the positions)
blocks for ever, so the close is never sent; "OWED" is printed once the close waits there,
and the parent kills the process at that moment.

With `before-closer`, the core itself escalates (every close order is refused; the config's
max_close_attempts is 1), and the supervisor's hand-off to the closer blocks for ever:
"ESCALATED" is printed once the escalation's decision is committed and the closer has not
started, the moment the parent kills the process.

    python -m tests.runtime.emergency_victim CONFIG [before-closer]
"""

from __future__ import annotations

import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from loguru import logger

from actors.messages import ExternalSignal
from exchange.errors import ExchangeError
from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.exchanges import build_paper
from tests.support.faulty_exchange import FaultyExchange, is_close_order
from tests.support.waiting import wait_until
from trading.commands import Escalate
from trading.model import Side

BTC = "BTC/USDT:USDT"


IN_CLOSE = threading.Event()


def block_emergency_reads(name: str, args: tuple, kwargs: dict) -> None:
    if threading.current_thread().name.startswith("emergency-"):
        IN_CLOSE.set()
        threading.Event().wait()  # the kill comes while the close waits on the exchange


def refuse_closes(name: str, args: tuple, kwargs: dict) -> None:
    if is_close_order(args, kwargs) and not threading.current_thread().name.startswith(
            "emergency-"):
        raise ExchangeError("reduce-only order refused")


def main(config: str, mode: str = "during-close") -> None:
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    settings = load_settings(Path(config))

    def build(s: Any, data_dir: Path) -> FaultyExchange:
        fx = FaultyExchange(build_paper(s, data_dir))
        fx.before["fetch_positions"] = block_emergency_reads
        if mode == "before-closer":
            fx.before["create_order"] = refuse_closes
        return fx

    account = AccountRuntime(settings.account_settings()[0], settings.data_dir_path(),
                             logger=logger, tagged=True, build_exchange_=build)
    account.open()
    account.build()
    account.start()
    assert account.sup is not None and account.repo is not None

    def view() -> Any:
        published = account.views.get(BTC)
        return None if published is None else published.view()

    wait_until(lambda: (v := view()) is not None and v.reconciled and v.last_tick_at is not None,
               timeout=60, message="BTC ready")
    account.sup.deliver_signal(BTC, ExternalSignal(side=Side.LONG, signal_id=uuid.uuid4().hex[:10]))
    wait_until(lambda: view().position is not None and view().protected, timeout=60,
               message="BTC long open and protected")
    if mode == "before-closer":
        handed = threading.Event()

        def never_hand_over(symbol: str, reason: str, then: Any) -> None:
            handed.set()  # the escalation's decision is committed (the actor told us after it)
            threading.Event().wait()

        account.sup.emergency_close = never_hand_over
        account.sup.deliver_signal(BTC, ExternalSignal(side=None,
                                                       signal_id=uuid.uuid4().hex[:10]))
        wait_until(handed.is_set, timeout=60, message="the escalation handed to the closer")
        print("ESCALATED", flush=True)
        threading.Event().wait()
    account.sup.escalated(BTC, Escalate(reason="close failed 3 times", attempts=3,
                                        last_error="refused"))
    wait_until(IN_CLOSE.is_set, timeout=60, message="emergency close waiting on the exchange")
    print("OWED", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main(*sys.argv[1:])
