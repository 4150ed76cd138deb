"""Every config in examples/ loads, and each trading style runs from it in paper mode as a real
`python bot.py` subprocess (the multi-account example has its own test)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from config.loader import load_settings
from tests.e2e.bot_process import ROOT, start_bot, wait_status
from tests.support.waiting import wait_until

EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_is_valid(path: Path):
    settings = load_settings(path)
    assert settings.bot.mode == "paper"
    assert (ROOT / "data") in settings.data_dir_path().resolve().parents  # kept out of the source tree's files


def _fast(example: str, tmp: Path, extra: str = "") -> Path:
    """The example with a fast, local paper market (the rest unchanged)."""
    text = (ROOT / "examples" / example).read_text()
    text = text.replace("[paper]\n", "[paper]\nstep_ms = 1000\n", 1) if "[paper]" in text else text + "\n[paper]\nstep_ms = 1000\n"
    text = text.replace("speed = 60.0", "speed = 600.0").replace("latency_ms = 20", "latency_ms = 1")
    path = tmp / example
    path.write_text(text + extra)
    return path


@pytest.mark.slow
def test_hedge_grid_example_holds_both_legs_protected(tmp_path: Path):
    config = _fast("hedge_grid.toml", tmp_path)
    data = tmp_path / "data"
    proc = start_bot(config, data, "--duration", "120")
    try:
        s = wait_status(config, data, lambda s: s["health"]["open_positions"] >= 6, timeout=60,
                        message="both legs open on several symbols")
        assert s["health"]["ts_coverage"] == 1.0 or s["health"]["protected_positions"] >= 6
        legs = [leg for a in s["actors"] if a["position"] for leg in a["position"]["legs"]]
        assert {leg["side"] for leg in legs} == {"long", "short"}
        s = wait_status(config, data, lambda s: s["health"]["ts_coverage"] == 1.0 and s["health"]["open_positions"] >= 6,
                        timeout=30, message="every leg protected")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
    log = (data / "logs" / "bot.log").read_text()
    assert "bot stopped" in log


@pytest.mark.slow
def test_signal_waves_example_takes_signals(tmp_path: Path):
    import json
    import re
    import urllib.request

    config = _fast("signal_waves.toml", tmp_path)
    # port 0: the receiver binds a port of its own and names it in its log line (a port picked
    # here and bound later could be taken by another test process in between)
    config.write_text(config.read_text().replace("port = 8787", "port = 0"))
    data = tmp_path / "data"
    env = {**os.environ, "BOT_SIGNAL_TOKEN": "t0ken"}
    proc = start_bot(config, data, "--duration", "120", env=env)
    log_path = data / "logs" / "bot.log"
    try:
        wait_status(config, data, lambda s: all(a["reconciled"] for a in s["actors"]), timeout=60,
                    message="actors reconciled")
        found = wait_until(lambda: log_path.exists() and re.search(
            r"signal endpoint listening on http://127\.0\.0\.1:(\d+)/", log_path.read_text()),
            timeout=30, message="signal receiver started")
        assert isinstance(found, re.Match)
        port = int(found.group(1))
        assert port != 0
        for i, symbol in enumerate(["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/signals", method="POST",
                                         data=json.dumps({"id": f"w{i}", "symbol": symbol, "side": "long"}).encode(),
                                         headers={"Authorization": "Bearer t0ken", "Content-Type": "application/json"})
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status in (200, 202)
        wait_status(config, data, lambda s: s["health"]["open_positions"] >= 3 and s["health"]["ts_coverage"] == 1.0,
                    timeout=60, message="three protected positions from the wave")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
