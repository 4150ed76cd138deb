"""Rule 1: a second start names the PID holding the lock. The PID was read only from the lock
file's text, which the holder writes just after taking the lock (and which another tool or a
hand may have emptied): a start in that moment said "an unknown PID" though the kernel knows
the holder. It is now read from the kernel's lock table when the file names none.

A real process holds bot.lock without writing its PID; `python bot.py run` as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.bot_process import write_config

ROOT = Path(__file__).resolve().parents[2]
HOLD = ("import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n")


def test_a_second_start_names_the_holder_when_the_lock_file_names_nobody(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    config = write_config(tmp_path / "config.toml", ["BTC/USDT:USDT"],
                          dashboard={"enabled": False}, logging={"console": False})
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(data / "bot.lock")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        r = subprocess.run([sys.executable, str(ROOT / "bot.py"), "run", "--config",
                            str(config), "--data-dir", str(data)], cwd=ROOT,
                           capture_output=True, text=True, timeout=120)
    finally:
        holder.communicate(input="", timeout=30)
    assert r.returncode == 3, r.stderr
    assert r.stderr == (f"bot.py: error: another bot is already running on {data} (PID "
                        f"{holder.pid} holds {data / 'bot.lock'})\n"), r.stderr
