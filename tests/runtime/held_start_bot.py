"""A bot whose one symbol's start is held: the exchange wrapper makes that symbol's first
position read (its actor's start reconciliation) wait until the test writes a line to the
process's stdin; once reached, it writes the file `HELD` names. Run as a subprocess by
tests/runtime/test_signal_while_one_symbol_starts.py, so the signal handlers and log sinks of
`Bot.run` stay out of pytest.

    python -m tests.runtime.held_start_bot CONFIG SYMBOL REACHED_FILE
"""

from __future__ import annotations

import sys
import threading
from functools import partial
from pathlib import Path
from typing import Any

from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.exchanges import build_exchange
from runtime.runner import Bot


class HeldFirstRead:
    """The account's exchange; the first position read naming `symbol` waits for stdin."""

    def __init__(self, inner: Any, symbol: str, reached: Path) -> None:
        self.inner = inner
        self.symbol = symbol
        self.reached = reached
        self._armed = True
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def fetch_positions(self, symbols: Any = None, params: Any = None) -> Any:
        with self._lock:
            hold = self._armed and symbols is not None and self.symbol in symbols
            if hold:
                self._armed = False
        if hold:
            self.reached.write_text("held\n")
            sys.stdin.readline()  # the test's line (or its end: the test went away)
        return self.inner.fetch_positions(symbols, params)


def main(config: str, symbol: str, reached: str) -> None:
    settings = load_settings(Path(config))

    def exchange(s: Any, data_dir: Path) -> HeldFirstRead:
        return HeldFirstRead(build_exchange(s, data_dir), symbol, Path(reached))

    runtime = partial(AccountRuntime, build_exchange_=exchange)
    sys.exit(Bot(settings, settings.data_dir_path(), account_runtime=runtime).run(None))


if __name__ == "__main__":
    main(*sys.argv[1:4])
