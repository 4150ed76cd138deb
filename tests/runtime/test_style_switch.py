"""A data dir's positions are stored in their trading style's shape. Switched from a one-way
strategy to the hedge grid (or back) while positions were held, the new style misread them
(found by review: a one-way position restored as a grid leg it never opened; grid to one-way,
the legs' rows left open and their stops cancelled as unowned). Now the run in the other style
is refused in one line before anything is sent, the first style still starts, and once the
account is flat the switch is allowed. Real bot processes (tests/e2e/bot_process.py)."""

from __future__ import annotations

from tests.e2e.bot_process import cli, start_bot, wait_status, write_config

BTC = "BTC/USDT:USDT"
SYMBOLS = [BTC, "ETH/USDT:USDT"]
QUIET = {"logging": {"console": False}}
NO_ENTRIES = {"strategy": {"entry_z": 1000}}  # the strategy itself opens nothing


def _stop(proc) -> None:  # noqa: ANN001
    proc.terminate()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]


def _running(config, data, check) -> None:  # noqa: ANN001
    proc = start_bot(config, data)
    try:
        wait_status(config, data, lambda s: s["bot"]["pid"] == proc.pid and all(
            a["state"] == "running" and a["reconciled"] for a in s["actors"]) and check(s),
            timeout=90, message="bot running")
    finally:
        _stop(proc)


def _btc(s: dict) -> dict:
    return next(a for a in s["actors"] if a["symbol"] == BTC)


def test_a_style_switch_is_refused_while_positions_are_held_and_allowed_once_flat(tmp_path):
    data = tmp_path / "data"
    one_way = write_config(tmp_path / "one_way.toml", SYMBOLS, **QUIET, **NO_ENTRIES)
    grid = write_config(tmp_path / "grid.toml", SYMBOLS, **QUIET,
                        exchange={"id": "paper", "hedge_mode": True},
                        strategy={"name": "hedge_grid"}, risk={"stop_loss_pct": 8})
    proc = start_bot(one_way, data)
    try:
        wait_status(one_way, data, lambda s: s["bot"]["pid"] == proc.pid and _btc(s)["reconciled"],
                    message="one-way bot running")
        assert cli(one_way, data, "signal", BTC, "long").returncode == 0
        wait_status(one_way, data, lambda s: _btc(s)["protected"], timeout=60,
                    message="a protected long on BTC")
    finally:
        _stop(proc)

    refused = start_bot(grid, data)
    _, err = refused.communicate(timeout=120)
    assert refused.returncode == 2, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-2000:]
    # the file and the line of strategy.name, as the loader's refusals (found by review: bare)
    assert lines[0].startswith(f"bot.py: error: {grid}:9: strategy.name: "), lines[0]
    assert f"traded in the one_way style for {BTC}" in lines[0]
    assert "Traceback" not in err

    # the one-way state is untouched: the position is still there; closed, the switch may go
    proc = start_bot(one_way, data)
    try:
        wait_status(one_way, data, lambda s: s["bot"]["pid"] == proc.pid and _btc(s)["protected"],
                    timeout=90, message="the long restored")
        assert cli(one_way, data, "signal", BTC, "exit").returncode == 0
        wait_status(one_way, data, lambda s: s["bot"]["pid"] == proc.pid and _btc(s)["reconciled"]
                    and _btc(s)["phase"] == "flat" and _btc(s)["position"] is None, timeout=60,
                    message="BTC flat")
    finally:
        _stop(proc)
    _running(grid, data, lambda s: True)
