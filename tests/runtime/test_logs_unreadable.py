"""`bot.py logs` on a log file it cannot read (a folder in its place, a rotated file that is a
folder, a file of another user: the files are 0600) is one line naming the file and why. Found
by review: it was "unexpected IsADirectoryError in logs" (or PermissionError) with a traceback
file, as for a bug, though the dashboard's log view already answered it in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot
from runtime import cli

CONFIG = '[bot]\ndata_dir = "data"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'


def run(argv: list[str]) -> int:
    return cli.dispatch(bot.parser().parse_args(argv))


@pytest.mark.parametrize("folder", ["BTC_USDT_USDT.log", "BTC_USDT_USDT.log.1"])
def test_a_log_file_that_cannot_be_read_is_one_line(tmp_path: Path, folder: str, capsys) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    logs = tmp_path / "data" / "logs"
    logs.mkdir(parents=True)
    if folder.endswith(".1"):
        (logs / "BTC_USDT_USDT.log").write_text("one line\n")  # fewer than -n: topped up
    (logs / folder).mkdir()
    code = run(["logs", "BTC/USDT:USDT", "-n", "50", "--config", str(config)])
    err = capsys.readouterr().err
    assert code == 2
    assert err == f"bot.py: error: log file {logs / folder} cannot be read (Is a directory)\n"
    assert not (logs / "commands.log").exists()  # no traceback: nothing unexpected happened
