"""A schedule that asks the venue for more REST than its limit while the streams are down never
starts: one line naming the key, the demand, the limit and the smallest value that fits. A
CI run of reconcile_interval_s = 1 on Binance with 500 symbols: the sweep alone asked more than
2,400 weight a minute, so every polling call (REST prices, the balance read) was refused for
as long as the streams stayed down ('market feed poll failed: BudgetRefused: binanceusdm ip:
rate budget short for a polling call'), and the bot had started happily."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config.loader import load_settings
from runtime.rest_demand import check_rest_demand, streams_down_demand
from runtime.wiring import StartupError
from tests.e2e.bot_process import ROOT, start_bot, write_config

SYMBOLS = [f"C{i:03d}/USDT:USDT" for i in range(500)]


def _live(tmp_path: Path, venue: str, name: str = "c.toml", **supervision: object) -> Path:
    return write_config(tmp_path / name, SYMBOLS, bot={"mode": "live"},
                        exchange={"id": venue, "api_url": "http://127.0.0.1:9",
                                  "ws_url": "ws://127.0.0.1:9"},
                        logging={"console": False},
                        supervision=supervision)


def test_a_sweep_past_the_venue_limit_refuses_the_start_in_one_line(tmp_path):
    config = _live(tmp_path, "binanceusdm", reconcile_interval_s=1)
    proc = start_bot(config, tmp_path / "data",
                     env={**__import__("os").environ, "BOT_API_KEY": "k" * 18,
                          "BOT_API_SECRET": "s" * 36})
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err[-2000:]
    assert "Traceback" not in err, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-2000:]
    line = lines[0]
    line_no = config.read_text().splitlines().index("reconcile_interval_s = 1") + 1
    assert line.startswith(f"bot.py: error: {config}:{line_no}: supervision.reconcile_interval_s "
                           "= 1 asks binanceusdm for ~"), line
    assert "weight a minute while the streams are down (limit 2,400)" in line, line
    # the sweep alone: (positionRisk 5 + openOrders 40 + openAlgoOrders 40) x 60 a minute
    assert "the all-symbol sweep ~5,100" in line, line
    fits = int(re.search(r"supervision\.reconcile_interval_s >= (\d+) fits", line)[1])
    settings = load_settings(config)
    ok = settings.model_copy(update={"supervision": settings.supervision.model_copy(
        update={"reconcile_interval_s": fits})})
    tight = settings.model_copy(update={"supervision": settings.supervision.model_copy(
        update={"reconcile_interval_s": fits - 1})})
    assert streams_down_demand(ok).protective <= 2400 < streams_down_demand(tight).protective


def test_the_shipped_config_passes_and_its_defaults_estimate_like_the_bench(tmp_path):
    shipped = load_settings(ROOT / "config.toml")
    told: list[str] = []
    check_rest_demand(shipped, warn=told.append)  # paper: no venue budget to judge
    assert told == [] and streams_down_demand(shipped) is None
    for venue in ("bybit", "binanceusdm"):
        live = shipped.model_copy(update={
            "bot": shipped.bot.model_copy(update={"mode": "live"}),
            "exchange": shipped.exchange.model_copy(update={"id": venue})})
        check_rest_demand(live, warn=told.append)  # no StartupError
        if venue == "bybit":
            assert told == [], told
    # Binance: 8 stops looked at every second (480 weight a minute) with the sweep and the
    # reconciliations leave the REST feed less than the 600 it needs of the share's 1,200
    assert len(told) == 1 and "REST price feed" in told[0], told
    # bench/bench_rate_budget.py on the emulators (500 symbols, 20 positions, defaults):
    # Binance 2,241 weight a minute with the streams down, Bybit 1,666 requests
    for venue, measured in (("binanceusdm", 2241), ("bybit", 1666)):
        demand = streams_down_demand(load_settings(_live(tmp_path, venue, f"{venue}.toml")))
        assert demand is not None
        assert abs(demand.total - measured) / measured < 0.06, (venue, demand)


def test_a_fitting_but_tight_schedule_starts_with_one_warning(tmp_path):
    settings = load_settings(_live(tmp_path, "bybit", stop_check_interval_s=0.3))
    told: list[str] = []
    check_rest_demand(settings, warn=told.append)
    assert len(told) == 1, told
    assert "\n" not in told[0]
    assert told[0].startswith(
        "supervision.stop_check_interval_s = 0.3: with the streams down"), told
    assert "REST price feed" in told[0] and "exchange.rate_budget_share" in told[0], told


def test_over_the_limit_is_refused_with_every_key_that_could_fit(tmp_path):
    settings = load_settings(_live(tmp_path, "bybit", stop_check_interval_s=0.1))
    with pytest.raises(StartupError) as err:
        check_rest_demand(settings, warn=lambda line: None)
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith("supervision.stop_check_interval_s = 0.1 asks bybit for ~"), line
    assert "(limit 7,200)" in line and "risk.max_open_positions <= " in line, line
