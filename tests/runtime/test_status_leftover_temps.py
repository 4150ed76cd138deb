"""A crash between the status snapshot's write and its rename leaves a temp file. They were
never removed; now each is cleaned at start, only our own pattern and only a gone process's (a
live process's temp file may be about to be renamed)."""

from __future__ import annotations

import os
import subprocess
import sys

from loguru import logger

from runtime.status_writer import StatusWriter
from supervision.status import read_status


def _gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_leftover_temp_files_of_gone_processes_are_removed_at_start(tmp_path, lines):
    gone = _gone_pid()
    leftover = [f".status.json.{gone}.140.0.tmp", f".status.json.{gone}.141.7.tmp"]
    kept = [
        f".status.json.{os.getpid()}.1.2.tmp",  # this process: may be in flight
        f".status.json.{os.getppid()}.1.2.tmp",  # a live process
        f".status.worker-1.json.{gone}.1.2.tmp",  # another file's: its own writer cleans it
        "status.json.tmp",  # not our pattern
        f".status.json.{gone}.x.2.tmp",
        "notes.tmp",
    ]
    for name in leftover + kept:
        (tmp_path / name).write_text("{")
    writer = StatusWriter(tmp_path, logger=logger, alert=lambda *a, **k: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(kept)
    # said at the first write, once the bot's log files are set up (the writer is made before)
    assert not [line for line in lines if "leftover temp file" in line]
    assert writer.write({"bot": {"round": 1}}) is True
    assert writer.write({"bot": {"round": 2}}) is True
    said = [line for line in lines if "leftover temp file" in line]
    assert len(said) == 1 and "removed 2 leftover temp file(s)" in said[0], lines
    assert read_status(tmp_path) == {"bot": {"round": 2}}


def test_a_missing_data_dir_is_no_error(tmp_path):
    writer = StatusWriter(tmp_path / "not-yet", logger=logger, alert=lambda *a, **k: None)
    assert writer.failing is None
