"""`supervision.alert_command` is split like a shell line when an alert goes out; one that
cannot be split (or names no program) is refused at load, naming the key and never quoting the
command, which may carry a key in its arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_settings
from tests.config.refusals import refused

SYMBOLS = '[symbols]\nlist = ["BTC/USDT:USDT"]\n'
SECRET = "k3y-0f-the-pager-service"


@pytest.mark.parametrize(("command", "problem"), [
    (f"notify --token {SECRET} 'bot alert", "cannot be split like a shell line"),
    (f"notify --token {SECRET} \\\\", "cannot be split like a shell line"),
    ("   ", "names no program"),
    (f"notify --token {SECRET}\\u0000", "must not contain a NUL character"),
])
def test_a_command_that_cannot_run_is_refused_without_its_text(tmp_path: Path, command: str,
                                                               problem: str):
    path = tmp_path / "config.toml"
    path.write_text(SYMBOLS + f'[supervision]\nalert_command = "{command}"\n')
    message = refused(path)
    assert message.startswith(f"{path}: supervision.alert_command: {problem}"), message
    assert SECRET not in message and "got" not in message


def test_an_account_s_command_is_refused_naming_the_account(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(SYMBOLS + '[[accounts]]\nname = "a"\n[accounts.supervision]\n'
                    f"alert_command = \"notify '{SECRET}\"\n")
    message = refused(path)
    assert message.startswith(f"{path}: accounts[0].supervision.alert_command: cannot be split")
    assert SECRET not in message


def test_a_quoted_command_is_accepted(tmp_path: Path):
    path = tmp_path / "config.toml"
    text = "notify-send 'bot alert' --urgency=critical"
    path.write_text(SYMBOLS + f'[supervision]\nalert_command = "{text}"\n')
    assert load_settings(path).supervision.alert_command == text
