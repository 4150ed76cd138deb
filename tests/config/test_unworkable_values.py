"""Values that cannot work are refused when the config is loaded, with one line naming the key,
instead of failing later: at `run`'s start with "unexpected OverflowError", or inside the
running bot's supervisor."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from config import load_settings
from tests.config.refusals import refused

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = '[symbols]\nlist = ["BTC/USDT:USDT"]\n'


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(SYMBOLS + text)
    return path


def test_a_rotation_size_beyond_any_file_is_refused_naming_the_key(tmp_path: Path):
    path = _config(tmp_path, "[logging]\nrotate_mb = 1e308\n")
    assert refused(path) == (
        f"{path}: logging.rotate_mb: must be > 0 and <= 1048576 (got 1e+308)")


def test_bot_run_names_the_rotation_size_instead_of_an_unexpected_overflow(tmp_path: Path):
    path = _config(tmp_path, "[logging]\nconsole = false\nrotate_mb = 1e308\n"
                   "[dashboard]\nenabled = false\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "run", "--config", str(path), "--duration", "1"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "logging.rotate_mb: must be" in lines[0], done.stderr
    assert "unexpected" not in done.stderr


def test_the_largest_rotation_size_is_still_accepted(tmp_path: Path):
    from config import load_settings

    settings = load_settings(_config(tmp_path, "[logging]\nrotate_mb = 1048576\n"
                                     "max_total_mb = 1048576\n"))
    assert settings.logging.rotate_bytes == 2**40
    assert settings.logging.max_total_bytes == 2**40
    path = _config(tmp_path, "[logging]\nrotate_mb = 1048576\n")  # over the folder's cap
    assert refused(path) == (f"{path}: logging.max_total_mb: must be 0 (no cap) or >= "
                             "logging.rotate_mb (1048576) (got 4096, the default)")


def test_a_heartbeat_interval_beyond_any_wait_is_refused_naming_the_key(tmp_path: Path):
    # beyond threading.TIMEOUT_MAX the supervisor's every queue wait raised OverflowError:
    # thousands of tracebacks a second, no actor watched
    path = _config(tmp_path, "[supervision]\nheartbeat_interval_s = 1e10\n"
                   "heartbeat_timeout_s = 1e11\n")
    assert refused(path) == (
        f"{path}: supervision.heartbeat_interval_s: must be > 0 and <= 3600 (got 10000000000.0)")


def test_an_hour_between_heartbeats_is_still_accepted(tmp_path: Path):
    from config import load_settings

    path = _config(tmp_path, "[supervision]\nheartbeat_interval_s = 3600\n"
                   "heartbeat_timeout_s = 7200\n")
    assert load_settings(path).supervision.heartbeat_interval_s == 3600


def test_a_take_profit_or_trailing_activation_of_100_pct_or_more_is_refused(tmp_path: Path):
    # a short's take-profit (or trailing activation) 100 % in its favour is at or below 0: it
    # could never fire, and the bot ran on without it, silently
    for key, value in (("take_profit_pct", "100"), ("trailing_activation_pct", "150")):
        path = _config(tmp_path, f"[risk]\n{key} = {value}\n")
        low = ">= 0" if key == "trailing_activation_pct" else "> 0"
        assert refused(path) == f"{path}: risk.{key}: must be {low} and < 100 (got {value})"
    path = _config(tmp_path, "[risk]\ntake_profit_pct = 99.9\ntrailing_activation_pct = 99\n")
    assert load_settings(path).risk.take_profit_pct == Decimal("99.9")


def test_the_log_folder_cap_defaults_to_4_gib_and_0_turns_it_off(tmp_path: Path):
    assert load_settings(_config(tmp_path, "")).logging.max_total_bytes == 4096 * 2**20
    off = load_settings(_config(tmp_path, "[logging]\nmax_total_mb = 0\n"))
    assert off.logging.max_total_bytes == 0


def test_a_log_folder_cap_below_one_rotation_is_refused_naming_the_key(tmp_path: Path):
    path = _config(tmp_path, "[logging]\nrotate_mb = 20\nmax_total_mb = 5\n")
    assert refused(path) == (f"{path}: logging.max_total_mb: must be 0 (no cap) or >= "
                             "logging.rotate_mb (20) (got 5)")
    path = _config(tmp_path, "[logging]\nmax_total_mb = -1\n")
    assert refused(path) == (
        f"{path}: logging.max_total_mb: must be >= 0 and <= 1048576 (got -1.0)")
    path = _config(tmp_path, '[logging]\nmax_total_mb = "4G"\n')
    assert refused(path) == f'{path}: logging.max_total_mb: expected a number (got "4G")'
