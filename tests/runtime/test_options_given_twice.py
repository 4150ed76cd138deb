"""An option given twice with different values (`bot.py --config live.toml status --config
paper.toml`, `signal BTC/USDT:USDT long --size 50 --size 5000`) was accepted and the last value
silently used (found by review): a user who read the first one traded another config, data dir
or size. Refused with one line naming the option and both values, exit 2, nothing queued; the
same value twice means nothing else and is accepted."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot
from runtime import cli

ROOT = Path(__file__).resolve().parents[2]
BTC = "BTC/USDT:USDT"
CONFIG = str(ROOT / "config.toml")


def run(argv: list[str]) -> int:
    return cli.dispatch(bot.parser().parse_args(argv))


@pytest.mark.parametrize("argv, option, values", [
    (["--config", CONFIG, "signal", BTC, "long", "--config", "other.toml"], "--config",
     (CONFIG, "other.toml")),
    (["--data-dir", "elsewhere", "signal", BTC, "long", "--config", CONFIG], "--data-dir",
     ("elsewhere", "{tmp}")),
    (["signal", BTC, "long", "--size", "50", "--size", "5000", "--config", CONFIG], "--size",
     ("50", "5000")),
    (["--duration", "5", "run", "--duration", "1", "--config", CONFIG], "--duration",
     ("5.0", "1.0")),
    (["status", "--account", "main", "--account", "beta", "--config", CONFIG], "--account",
     ("main", "beta")),
])
def test_an_option_given_twice_with_different_values_is_refused(argv, option, values, tmp_path,
                                                                capsys):
    code = run(argv + ["--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.startswith(f"bot.py: error: {option}: given twice with different values"), err
    first, second = (v.format(tmp=tmp_path) for v in values)
    assert f"{first}, then {second}" in err
    assert list(tmp_path.iterdir()) == []  # nothing queued, no database made


@pytest.mark.parametrize("argv", [
    ["--config", CONFIG, "status", "--config", CONFIG],
    ["signal", BTC, "long", "--size", "50", "--size", "50"],
    ["--duration", "5", "run", "--duration", "5"],
    ["run", "--duration", "5"],
])
def test_the_same_value_twice_or_once_is_accepted(argv):
    assert cli.given_twice(bot.parser().parse_args(argv)) is None
