"""The progress bar goes to the terminal's stderr, never into the report on stdout (found by
review: drawn on stdout, `bot.py backtest > report.txt` began with the blank line the
transient bar left behind)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "backtest.toml"


def _backtest(out: Path, stderr: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "backtest", "--config", str(EXAMPLE),
         "--no-charts", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=stderr, cwd=out.parent)


def test_a_redirected_report_starts_with_the_report_and_no_bar_is_drawn(tmp_path: Path) -> None:
    proc = _backtest(tmp_path / "out", subprocess.PIPE)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert stdout.startswith(b"Backtest "), stdout[:80]
    assert stderr == b""


def test_on_a_terminal_the_bar_is_drawn_on_stderr(tmp_path: Path) -> None:
    master, slave = pty.openpty()
    seen = bytearray()

    def drain() -> None:  # the child must never block on a full terminal buffer
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed its end (EIO on Linux)
                return
            if not chunk:
                return
            seen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = _backtest(tmp_path / "out", slave)
        os.close(slave)
        stdout, _ = proc.communicate(timeout=300)
    finally:
        reader.join(timeout=30)
        os.close(master)
    assert proc.returncode == 0, seen.decode(errors="replace")
    assert stdout.startswith(b"Backtest "), stdout[:80]
    assert b"candles/s" in seen, seen.decode(errors="replace")
