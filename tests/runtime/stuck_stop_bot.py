"""A bot whose account's stop() outlasts the runner's wait for it (an emergency close stuck on
the venue): tests/runtime/test_locks_kept_while_an_account_stops.py runs it as a subprocess.
After `Bot.run` returns, while that stop still runs, it prints whether the account's lock
and bot.lock are still held, then lets the stop finish.

    python -m tests.runtime.stuck_stop_bot CONFIG
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.bot_locks import account_lock_path
from runtime.runner import Bot
from supervision.instance_lock import AlreadyRunning, InstanceLock

RELEASE = threading.Event()


class StopOutlastsTheWait(AccountRuntime):
    def stop(self) -> list[str]:
        stuck = super().stop()
        RELEASE.wait(60)  # as an emergency close still waiting on the venue
        return stuck


def held(path: Path) -> bool:
    try:
        InstanceLock(path).acquire()
    except AlreadyRunning:
        return True
    return False


def main(config: str) -> None:
    settings = load_settings(Path(config))
    data = settings.data_dir_path()
    code = Bot(settings, data, account_runtime=StopOutlastsTheWait,
               stop_timeout_s=0.5).run(duration_s=1.0)
    name = settings.account_names()[0]
    print(f"run returned {code}; account lock held: {held(account_lock_path(data, name))}; "
          f"bot lock held: {held(data / 'bot.lock')}", flush=True)
    RELEASE.set()


if __name__ == "__main__":
    main(sys.argv[1])
