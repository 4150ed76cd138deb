"""`python bot.py run` on a data dir whose logs/bot.log cannot be opened (a directory there, a
file of another user) or whose `locks` is a file. The start said "unexpected IsADirectoryError
in run" (labelled as a bug, and its traceback could not even be written where it said) and, for
`locks`, "EEXIST: File exists" (the lock file does not exist: its folder is a file). Now one
line naming the file and the problem, exit 2. Real `python bot.py` subprocesses (as `nobody`
under root for the permission case), temp data dirs and configs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.runtime.test_cli_leftovers import (
    ROOT,
    as_unprivileged,
    bot,
    one_error_line,
    open_tmp,
    write_config,
)

__all__ = ["open_tmp"]  # the fixture, used by name


def test_a_directory_named_bot_log_is_one_line_naming_it(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    data = tmp_path / "data"
    (data / "logs" / "bot.log").mkdir(parents=True)
    line = one_error_line(bot(config, "run", "--duration", "1"))
    assert line == (f"bot.py: error: {data / 'logs' / 'bot.log'}: cannot open the log file "
                    "(EISDIR: Is a directory)")


def test_a_bot_log_of_another_user_is_one_line_naming_it(open_tmp: Path) -> None:
    prefix = as_unprivileged()
    config = write_config(open_tmp)
    os.chmod(config, 0o644)
    data = open_tmp / "data"
    (data / "logs").mkdir(parents=True)
    log = data / "logs" / "bot.log"
    log.write_text("")
    os.chmod(log, 0o600 if prefix else 0o400)  # root's, or ours and read-only
    if prefix:  # the data dir is nobody's own (another owner's is refused before)
        for path in (data, data / "logs"):
            os.chown(path, 65534, 65534)
    r = subprocess.run([*prefix, sys.executable, str(ROOT / "bot.py"), "run", "--duration", "1",
                        "--config", str(config)], capture_output=True, text=True, timeout=90,
                       cwd=open_tmp)
    assert one_error_line(r) == (f"bot.py: error: {log}: cannot open the log file "
                                 "(EACCES: Permission denied)")


def test_a_file_named_locks_is_one_line_naming_it(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    (data / "locks").write_text("")
    line = one_error_line(bot(config, "run", "--duration", "1"))
    assert line == (f"bot.py: error: {data / 'locks' / 'main.lock'}: cannot open the lock "
                    f"file: {data / 'locks'} is not a directory (ENOTDIR: Not a directory)")
