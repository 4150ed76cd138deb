"""A bot of two accounts whose databases stall at the stop (one full or hung disk under both):
tests/runtime/test_stalled_writers_close_together.py runs it as a subprocess. Each account's
close says it began, then waits (at most 20 s) until every account's close has begun, as a
writer still committing would hold it; it prints whether the closes ran together.

    python -m tests.runtime.stalled_writers_bot CONFIG
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.runner import Bot

CLOSING: set[str] = set()
CHANGED = threading.Condition()
SEEN: dict[str, bool] = {}


class WriterStalls(AccountRuntime):
    def close(self) -> None:
        with CHANGED:
            CLOSING.add(self.name)
            CHANGED.notify_all()
            SEEN[self.name] = CHANGED.wait_for(lambda: len(CLOSING) == 2, timeout=20)
        super().close()


def main(config: str) -> None:
    settings = load_settings(Path(config))
    code = Bot(settings, settings.data_dir_path(), account_runtime=WriterStalls).run(1.0)
    together = all(SEEN.get(name) for name in settings.account_names())
    print(f"run returned {code}; closes {'together' if together else 'one after the other'}: "
          f"{sorted(SEEN.items())}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
