"""A `bot.py signal --size` queued while the bot is stopped is judged again against
`signals.max_size_usdt` when the bot applies it. Found by review: the cap was checked only
when the CLI queued the row, so a cap lowered in the config before the next start still let
the old, larger size trade. Real subprocesses: the CLI queues, the config is edited, the bot
starts and applies the row."""

from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.bot_process import cli, write_config
from tests.e2e.test_queued_controls import run_until_every_control_applied

SYMBOLS = ["BTC/USDT:USDT"]
pytestmark = pytest.mark.slow


def _config(tmp_path, cap: int):  # noqa: ANN001, ANN202
    return write_config(tmp_path / "config.toml", SYMBOLS, bot={"status_interval_s": 0.2},
                        exchange={"poll_interval_s": 0.1}, signals={"max_size_usdt": cap},
                        paper={"latency_ms": 1, "step_ms": 100}, logging={"console": False})


def test_a_queued_size_above_a_cap_lowered_since_is_refused_when_applied(tmp_path):
    data = tmp_path / "data"
    queued = cli(_config(tmp_path, 1000), data, "signal", "BTC/USDT:USDT", "long",
                 "--size", "500")
    assert queued.returncode == 0, queued.stderr
    config = _config(tmp_path, 100)  # the cap is lowered before the bot starts
    run_until_every_control_applied(config, data, "the queued signal applied")
    with sqlite3.connect(data / "bot.sqlite") as db:
        (cid, result), = db.execute("SELECT id, result FROM control").fetchall()
        received = db.execute("SELECT COUNT(*) FROM events WHERE type = 'SignalReceived' "
                              "AND correlation_id = ?", (f"cli-{cid}",)).fetchone()[0]
        journaled = [r[0] for r in db.execute(
            "SELECT data FROM events WHERE type = 'ControlApplied'")]
    assert received == 0, "the old size was delivered to the actor"
    assert result.startswith("refused: size_usdt 500 is above signals.max_size_usdt 100"), result
    assert sum("signals.max_size_usdt 100" in d for d in journaled) == 1, journaled
    log = (data / "logs" / "bot.log").read_text()
    assert sum("signals.max_size_usdt 100" in line for line in log.splitlines()) == 1
    assert "Traceback" not in log
