"""`--duration` and `--workers` mean something only to `run`; given with another command
(`bot.py --duration 5 status`, `bot.py --workers 2 signal ...`) they were accepted and silently
ignored (found by review): a user who meant to bound or spread a run got a status dump instead.
Refused with one line naming the option, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot
from runtime import cli

ROOT = Path(__file__).resolve().parents[2]
BTC = "BTC/USDT:USDT"


def run(argv: list[str]) -> int:
    return cli.dispatch(bot.parser().parse_args(argv))


@pytest.mark.parametrize("argv, option", [
    (["--duration", "5", "status"], "--duration"),
    (["--workers", "2", "status"], "--workers"),
    (["--workers", "1", "logs", "bot"], "--workers"),
    (["--duration", "5", "signal", BTC, "long"], "--duration"),
    (["--workers", "2", "resume", BTC], "--workers"),
    (["--duration", "5", "backtest"], "--duration"),
])
def test_a_run_only_option_with_another_command_is_refused(argv, option, tmp_path, capsys):
    code = run(argv + ["--config", str(ROOT / "config.toml"), "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"bot.py: error: {option}:")
    assert "only with run" in err
    assert not (tmp_path / "bot.sqlite").exists()  # nothing was queued


@pytest.mark.parametrize("argv", [["--workers", "2", "--duration", "5"],
                                  ["--workers", "2", "--duration", "5", "run"],
                                  ["run", "--workers", "2", "--duration", "5"]])
def test_run_still_takes_them(argv):
    args = bot.parser().parse_args(argv)
    assert cli.run_only_problem(args) is None
    assert (args.workers, args.duration) == (2, 5.0)
