"""Issue 16 item 14: command-line values argparse lets through are refused with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot
from runtime import cli
from storage import control
from storage.repository import Repository

ROOT = Path(__file__).resolve().parents[2]
BTC = "BTC/USDT:USDT"


def run(argv: list[str]) -> int:
    return cli.dispatch(bot.parser().parse_args(argv))


@pytest.mark.parametrize("size", ["-50", "0", "NaN", "nan", "Infinity", "-inf", "1e30", "abc"])
def test_signal_size_is_refused(size, tmp_path, capsys):
    code = run(["signal", BTC, "long", f"--size={size}", "--config", str(ROOT / "config.toml"),
                "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--size" in err
    assert not (tmp_path / "bot.sqlite").exists()  # nothing was queued


def test_a_sane_size_is_queued(tmp_path, capsys):
    code = run(["signal", BTC, "long", "--size", "25.5", "--config", str(ROOT / "config.toml"),
                "--data-dir", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        [(_, command, symbol, args)] = control.take_pending(repo)
    finally:
        repo.close()
    assert (command, symbol, args["size_usdt"]) == ("signal", BTC, "25.5")


def test_a_size_with_exit_is_refused_not_ignored(tmp_path, capsys):
    # found by review: `signal X exit --size 50` was queued and the size ignored: the whole
    # position was closed where the user asked for a 50 USDT partial close
    code = run(["signal", BTC, "exit", "--size", "50", "--config", str(ROOT / "config.toml"),
                "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert (code, err) == (2, "bot.py: error: --size: only with long or short (exit closes the "
                              "whole position); nothing queued\n")
    assert not (tmp_path / "bot.sqlite").exists()  # nothing was queued
    assert run(["signal", BTC, "exit", "--config", str(ROOT / "config.toml"),
                "--data-dir", str(tmp_path)]) == 0


@pytest.mark.parametrize("argv, needle", [
    (["--duration", "nan"], "--duration"),
    (["run", "--duration", "inf"], "--duration"),
    (["run", "--duration", "-1"], "--duration"),
    (["logs", "bot", "-n", "-5"], "-n/--lines: must be >= 0"),
    (["status", "--data-dir", ""], "--data-dir: must not be empty"),
    (["--data-dir", "", "run", "--duration", "1"], "--data-dir: must not be empty"),
])
def test_meaningless_values_are_refused(argv, needle, capsys):
    code = run(argv + ["--config", str(ROOT / "config.toml")])
    err = capsys.readouterr().err
    assert code == 2 and needle in err and err.count("\n") == 1


@pytest.mark.parametrize("argv", [["--config", ""], ["--config=", "status"],
                                  ["signal", BTC, "long", "--config", " "]])
def test_an_empty_config_option_is_refused_naming_it(argv, capsys):
    # found by review: `--config=` read the current folder: ".: is a directory, expected a
    # TOML file", naming no option
    code = run(argv)
    err = capsys.readouterr().err
    assert (code, err) == (2, "bot.py: error: --config: must not be empty (omit it to use "
                              "config.toml)\n")


def test_workers_with_a_cluster_node_are_refused_in_one_line(tmp_path, capsys):
    """`run --workers N` with [cluster] enabled: each worker ran as a whole node and was refused
    by the parent's own lock on the data dir ("another bot is already running ... PID <the
    parent>"), then the parent exited 1. Refused up front, naming both settings."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[bot]\nmode = "live"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n[exchange]\nid = "bybit"\n'
        '[storage]\nurl = "postgresql://bot@127.0.0.1:1/bot"\n[cluster]\nenabled = true\n'
        '[[accounts]]\nname = "a1"\nexchange.api_key_env = "K1"\n'
        'exchange.api_secret_env = "S1"\n[[accounts]]\nname = "a2"\n'
        'exchange.api_key_env = "K2"\nexchange.api_secret_env = "S2"\n')
    code = run(["run", "--workers", "2", "--duration", "5", "--config", str(config),
                "--data-dir", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and "--workers 2: not with cluster.enabled = true" in err
    assert not (tmp_path / "data" / "bot.lock").exists()  # refused before anything started
