"""A bot whose second account fails to start once the first one runs (a thread the process
cannot create, a database read refused): tests/runtime/test_half_started_bot.py runs it as
a subprocess, so the signal handlers and log sinks of `Bot.run` stay out of pytest.

    python -m tests.runtime.half_started_bot CONFIG
"""

from __future__ import annotations

import sys
from pathlib import Path

from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.runner import Bot


class SecondFails(AccountRuntime):
    def start(self) -> None:
        if self.name == "b":
            raise RuntimeError("can't start new thread")
        super().start()


def main(config: str) -> None:
    settings = load_settings(Path(config))
    Bot(settings, settings.data_dir_path(), account_runtime=SecondFails).run(duration_s=None)


if __name__ == "__main__":
    main(sys.argv[1])
