"""A data dir holds one venue's state. Switched from paper to live by changing only `[bot] mode`
and `[exchange]`, the live bot restored the paper positions as real ones (no stop on the venue)
and sent stop orders for them; now the run is refused in one line before anything is sent, and
the paper run on the same data dir still starts."""

from __future__ import annotations

import os

from tests.e2e.bot_process import start_bot, wait_status, write_config

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]


def _run_until_ready(config, data) -> None:
    proc = start_bot(config, data)
    try:
        wait_status(config, data, lambda s: s["bot"]["pid"] == proc.pid and all(
            a["state"] == "running" and a["reconciled"] for a in s["actors"]),
            message="paper bot running")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]


def test_a_paper_data_dir_is_refused_by_a_live_run_and_kept_for_paper(tmp_path):
    data = tmp_path / "data"
    paper = write_config(tmp_path / "paper.toml", SYMBOLS, logging={"console": False})
    _run_until_ready(paper, data)
    live = write_config(tmp_path / "live.toml", SYMBOLS, logging={"console": False},
                        bot={"mode": "live"},
                        exchange={"id": "bybit", "api_url": "http://127.0.0.1:9"})
    env = {**os.environ, "BOT_API_KEY": "k" * 18, "BOT_API_SECRET": "s" * 36}
    proc = start_bot(live, data, env=env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-2000:]
    # the file and the line of bot.mode, as the loader's refusals (found by review: bare)
    assert lines[0].startswith(f"bot.py: error: {live}:6: bot.mode / exchange.id: "), lines[0]
    assert "holds the state of paper, not live on bybit" in lines[0]
    assert "Traceback" not in err
    # the log says why too: it said only "bot stopped", with no start before it
    log = (data / "logs" / "bot.log").read_text().splitlines()
    refused = [i for i, line in enumerate(log) if "| ERROR | - | start refused: " in line]
    assert len(refused) == 1, log[-5:]
    assert "holds the state of paper, not live on bybit" in log[refused[0]]
    assert log[-1].endswith("| INFO | - | bot stopped") and refused[0] == len(log) - 2, log[-5:]
    _run_until_ready(paper, data)  # the paper state is untouched and still starts
