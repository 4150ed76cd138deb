"""A bot whose account's database writer is still busy when the account closes (a stalled
disk): tests/runtime/test_locks_kept_while_writer_runs.py runs it as a subprocess. After
`Bot.run` returns it prints whether the database file's lock is still held.

    python -m tests.runtime.stalled_writer_bot CONFIG
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.bot_locks import shared_files
from runtime.runner import Bot
from supervision.instance_lock import FileInUse, FileLock

STALL = threading.Event()


class WriterStalls(AccountRuntime):
    def close(self) -> None:
        """AccountRuntime.close, with a write in progress that outlasts a short writer wait."""
        repo, exchange = self.repo, self.exchange
        assert repo is not None and exchange is not None
        self.repo = self.exchange = None
        writing = threading.Event()

        def slow() -> None:
            writing.set()
            STALL.wait(60)

        threading.Thread(target=lambda: repo.writer.submit(slow, timeout=None),
                         daemon=True).start()
        assert writing.wait(10)
        exchange.close()
        self.writer_running = not repo.close(writer_timeout_s=0.3)


def main(config: str) -> None:
    settings = load_settings(Path(config))
    data = settings.data_dir_path()
    Bot(settings, data, account_runtime=WriterStalls).run(duration_s=1.0)
    database = shared_files(settings, data)[0]
    try:
        FileLock(database).acquire()
        print(f"database lock released: {database}", flush=True)
    except FileInUse:
        print(f"database lock held: {database}", flush=True)
    STALL.set()


if __name__ == "__main__":
    main(sys.argv[1])
