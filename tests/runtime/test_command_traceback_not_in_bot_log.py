"""An unexpected error in an operator command (`status`, `logs`, `signal`, `resume`, `cluster`)
appended its CRITICAL line and traceback to logs/bot.log, the log of the bot that may be running
on that data dir (a second process must not write into a running bot's log: runtime/shutdown.py
reader_gone; found by review). Such a command's traceback goes to logs/commands.log; `run` keeps
logs/bot.log (its own)."""

from __future__ import annotations

import pytest

from runtime.cli import unexpected


@pytest.mark.parametrize("command", ["status", "logs", "signal", "resume", "cluster"])
def test_a_commands_traceback_goes_to_commands_log_not_the_bots(command, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    running = "2026-01-01T00:00:00.000Z | INFO | - | the running bot's line\n"
    (logs / "bot.log").write_text(running)
    try:
        {}["amount"]
    except KeyError as exc:
        line = unexpected(exc, command, tmp_path)
    assert (logs / "bot.log").read_text() == running
    where = logs / "commands.log"
    assert line == f"unexpected KeyError in {command}: 'amount' (traceback in {where})"
    text = (logs / "commands.log").read_text()
    assert "Traceback (most recent call last)" in text and "KeyError: 'amount'" in text


def test_run_keeps_its_own_bot_log(tmp_path):
    try:
        {}["amount"]
    except KeyError as exc:
        unexpected(exc, "run", tmp_path)
    assert "KeyError: 'amount'" in (tmp_path / "logs" / "bot.log").read_text()
    assert not (tmp_path / "logs" / "commands.log").exists()
