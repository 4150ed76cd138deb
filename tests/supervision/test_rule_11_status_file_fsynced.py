"""Rule 11: the status snapshot is written to a temp file, fsynced, then renamed (and the folder
fsynced so the rename itself is durable). A reader-side test cannot tell a missing fsync: only
a power loss would. So the bot's own `write_status` runs in a real child process under
`strace`, and the system calls it makes are checked in order: the temp file's data reaches the
disk before the rename makes it the status file, and the folder is fsynced after the rename.

Found by a mutation audit: with the fsync of the temp file removed from storage/atomic_file.py,
no test failed."""

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
import sys
from pathlib import Path
from supervision.status import write_status
write_status(Path(sys.argv[1]), {"bot": {"pid": 1, "running": True}, "actors": []})
"""
STRACE = shutil.which("strace")


def _not_here(why: str) -> None:
    """CI installs strace and runs as root: there the test must run, never skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why}: .ci/run must apt-get install strace and allow ptrace")
    pytest.skip(why)


def test_write_status_fsyncs_the_temp_file_before_the_rename_and_the_folder_after(tmp_path):
    if STRACE is None:
        _not_here("strace is not installed")
    data = tmp_path / "data"
    data.mkdir()
    trace = tmp_path / "trace.txt"
    assert STRACE is not None
    result = subprocess.run(
        [STRACE, "-f", "-qq", "-o", str(trace), "-e",
         "trace=openat,open,fsync,fdatasync,rename,renameat,renameat2,close",
         sys.executable, "-c", CHILD, str(data)],
        capture_output=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    if result.returncode != 0 and b"ptrace" in result.stderr:
        _not_here(f"strace cannot trace here: {result.stderr.decode()[-200:]}")
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    target = str(data / "status.json")
    fds: dict[str, str] = {}  # fd -> path, for the fds open at each moment
    steps: list[tuple[str, str]] = []
    for line in trace.read_text().splitlines():
        call = re.match(r"^\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)", line)
        if call is None:
            continue
        name, args, ret = call.groups()
        if name in ("open", "openat") and int(ret) >= 0:
            path = re.search(r'"([^"]*)"', args)
            if path is not None:
                fds[ret] = path.group(1)
        elif name in ("fsync", "fdatasync"):
            fd = args.split(",")[0].strip()
            if fd in fds:
                steps.append(("fsync", fds[fd]))
        elif name.startswith("rename") and int(ret) == 0:
            paths = re.findall(r'"([^"]*)"', args)
            if paths and paths[-1] == target:
                steps.append(("rename", paths[0]))
        elif name == "close":
            fds.pop(args.strip(), None)
    renames = [i for i, (kind, _) in enumerate(steps) if kind == "rename"]
    assert len(renames) == 1, steps
    at = renames[0]
    temp = steps[at][1]
    assert Path(temp).parent == data and temp != target  # a temp file in the same folder
    assert ("fsync", temp) in steps[:at], steps  # its data is on disk before it is renamed
    assert ("fsync", str(data)) in steps[at + 1:], steps  # and the rename itself after it
    assert (data / "status.json").read_text().startswith("{")
