"""A line the bot says on stderr outside its log (a start notice, `bot.py: error: ...`) goes out
in one write, its newline included. `print(..., file=sys.stderr)` writes the text and the
newline apart; with stderr unbuffered (PYTHONUNBUFFERED=1, as a review's shell had it) the
console log thread's line landed between the two: the paper store's kept-balance notice and
the log's WARNING line ran together on one console line. Timing cannot show this reliably, so
the production function runs in a child process under `strace` and its writes to fd 2 are read
back: the notice must be one write that ends with its newline."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHILD = """
from decimal import Decimal
from loguru import logger
logger.remove()  # only the notice's own writes reach fd 2
from exchange.paper.notices import kept_balance_notice
kept_balance_notice("store.sqlite", "paper.starting_balance", Decimal(500), Decimal(10000),
                    Decimal(9990))
"""
STRACE = shutil.which("strace")


def _not_here(why: str) -> None:
    """CI installs strace and runs as root: there the test must run, never skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}: .ci/run must apt-get install strace and allow ptrace")
    pytest.skip(why)


def test_a_stderr_notice_is_one_write_with_its_newline_when_stderr_is_unbuffered(tmp_path):
    if STRACE is None:
        _not_here("strace is not installed")
    trace = tmp_path / "trace.txt"
    result = subprocess.run(
        [STRACE, "-f", "-qq", "-s", "4096", "-o", str(trace), "-e", "trace=write",
         sys.executable, "-c", CHILD],
        capture_output=True, cwd=REPO, timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"})
    if result.returncode != 0 and b"ptrace" in result.stderr:
        _not_here(f"strace cannot trace here: {result.stderr.decode()[-200:]}")
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    writes = [m.group(1) for m in re.finditer(r'^\d+\s+write\(2, "(.*)", \d+\)\s+=\s+\d+',
                                             trace.read_text(), re.MULTILINE)]
    assert writes, trace.read_text()[-2000:]
    notice = [w for w in writes if "keeps its own balance" in w]
    assert len(notice) == 1, writes
    assert notice[0].startswith("paper: store.sqlite: this paper account keeps its own balance")
    assert notice[0].endswith("\\n"), writes  # the newline in the same write, not after it
    assert writes == notice, writes  # nothing else: no newline written on its own
