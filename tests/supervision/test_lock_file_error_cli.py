"""`bot.py run` whose lock file is taken but cannot be written: one line naming the lock file
and the error's meaning, exit 2, no traceback (a real subprocess). The lock file is a symlink to
/dev/full, which takes the flock but refuses the PID (EINVAL on the truncate, ENOSPC on the
write): before, the command line said "unexpected OSError in run: [Errno 22] Invalid argument",
naming no file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.bot_process import cli, write_config

pytestmark = pytest.mark.slow


def test_run_with_a_lock_file_that_cannot_be_written_says_so_in_one_line(tmp_path: Path):
    config = write_config(tmp_path / "config.toml", ["BTC/USDT:USDT"],
                          bot={"status_interval_s": 0.2}, paper={"latency_ms": 1},
                          logging={"console": False})
    data = tmp_path / "data"
    data.mkdir()
    lock = data / "bot.lock"
    lock.symlink_to("/dev/full")
    result = cli(config, data, "run", "--duration", "5")
    err = result.stderr
    assert result.returncode == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert f"{lock}: cannot write this process's PID into the lock file" in err, err
    assert "EINVAL: Invalid argument" in err and "unexpected" not in err, err
