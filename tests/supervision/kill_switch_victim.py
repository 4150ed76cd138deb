"""A person's kill switch in a process killed right after its answer
(tests/supervision/test_kill_switch_stored_before_answer.py runs it as a subprocess and SIGKILLs
it as soon as the answer is printed). Its database takes SLOW_S to store the kill switch, as a
database under load does. The real supervisor, the account's guard, real SQLite.

    python -m tests.supervision.kill_switch_victim DB
"""

from __future__ import annotations

import sys
import threading
from decimal import Decimal
from pathlib import Path

from loguru import logger

from protections.guard import AccountGuard
from storage.repository import Repository
from supervision.alerts import Alerts
from supervision.restart_policy import RestartPolicy
from supervision.supervisor import Supervisor

SLOW_S = 1.0
BTC = "BTC/USDT:USDT"


class SlowKillSwitch(Repository):
    def set_meta(self, key: str, value: str) -> None:
        if key == "kill_switch":
            threading.Event().wait(SLOW_S)  # the database answers late
        super().set_meta(key, value)


def supervisor(repo: Repository, **kwargs: float) -> Supervisor:
    """The account's supervisor (its actors are never started here: the switch is the point)."""
    return Supervisor(
        symbols=[BTC], start_actor=lambda s: None, repo=repo,  # type: ignore[arg-type,return-value]
        policy=RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=0.01,
                             backoff_max_s=0.1, stable_after_s=30),
        alerts=Alerts(logger=logger), logger=logger, heartbeat_interval_s=0.05,
        heartbeat_timeout_s=5, mailbox_max=1000, reconcile_interval_s=3600,
        kill_switch_escalations=100, kill_switch_window_s=600, **kwargs)


def main(db: str) -> None:
    logger.remove()
    logger.add(sys.stderr, level="WARNING")
    repo = SlowKillSwitch(Path(db), synchronous="full")
    sup = supervisor(repo)
    guard = AccountGuard(repo=repo, sup=sup, checks=[], base=Decimal(10000),
                         alert=sup.alerts.alert, logger=logger)
    print(guard.apply("kill_switch", "*", {"by": "dashboard"}), flush=True)
    threading.Event().wait()  # killed here


if __name__ == "__main__":
    main(sys.argv[1])
