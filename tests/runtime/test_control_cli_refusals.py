"""`bot.py signal` / `resume` refusals decided before anything is queued (runtime/control_cli.py):
a symbol the account does not trade (named with its near miss) and a signal to a hedge grid.
Each is one error line, exit 2, and no control row: the bot's database is never made. The CLI
runs in-process on a real config file."""

from __future__ import annotations

from pathlib import Path

import pytest

import bot
from runtime import cli

BTC = "BTC/USDT:USDT"


def _run(config: Path, *argv: str) -> int:
    return cli.dispatch(bot.parser().parse_args([*argv, "--config", str(config)]))


def test_a_symbol_not_traded_is_refused_with_its_near_miss(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\ndata_dir = "data"\n[symbols]\nlist = ["{BTC}"]\n')
    code = _run(config, "resume", "btc/usdt:usdt")
    err = capsys.readouterr().err
    assert code == cli.EXIT_STARTUP, err
    assert err == (f"bot.py: error: 'btc/usdt:usdt' is not in symbols.list of {config} "
                   f"(did you mean \"{BTC}\"?)\n"), err
    assert not (tmp_path / "data" / "bot.sqlite").exists()


def test_a_signal_to_a_hedge_grid_is_refused(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\ndata_dir = "data"\n[symbols]\nlist = ["{BTC}"]\n'
                      '[exchange]\nhedge_mode = true\n[risk]\nstop_loss_pct = 10\n'
                      '[strategy]\nname = "hedge_grid"\n')
    code = _run(config, "signal", BTC, "long")
    err = capsys.readouterr().err
    assert code == cli.EXIT_STARTUP, err
    assert "signal: account " in err and "hedge grid trades its own levels and takes no " \
        "signals (it would be journaled SignalSkipped); nothing queued" in err, err
    assert not (tmp_path / "data" / "bot.sqlite").exists()
