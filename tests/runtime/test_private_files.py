"""make_private at every start: the data dir's files lose group/other permissions, and nothing
the owner had (found by review: it turned a 0755 alert_command script kept in the data dir into
0600, so every alert of that run failed with "Permission denied" and the next start refused the
config, "program not found or not executable")."""

from __future__ import annotations

import os
import stat
import subprocess

from runtime.private_files import make_private


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_script_in_the_data_dir_stays_runnable_by_its_owner(tmp_path):
    data = tmp_path / "data"
    (data / "hooks").mkdir(parents=True)
    script = data / "hooks" / "alert.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    os.chmod(script, 0o755)
    log = data / "bot.log"
    log.write_text("x\n")
    os.chmod(log, 0o644)
    os.chmod(data / "hooks", 0o755)
    assert make_private(data) == []
    assert _mode(script) == 0o700
    assert _mode(log) == 0o600
    assert _mode(data / "hooks") == 0o700 and _mode(data) == 0o700
    assert subprocess.run([str(script)], timeout=30).returncode == 0
