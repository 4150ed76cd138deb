"""`supervision.stop_check_interval_s` (issue 12, the stop watch): documented default, range,
and a one-line error naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_settings
from tests.config.test_config_loader import REPO_CONFIG, config_error, write_config


def test_shipped_default_is_one_second():
    assert load_settings(REPO_CONFIG).supervision.stop_check_interval_s == 1.0


@pytest.mark.parametrize("value", ["-1", "61", '"soon"'])
def test_out_of_range_names_the_key(tmp_path: Path, value: str):
    message = config_error(tmp_path, f"[supervision]\nstop_check_interval_s = {value}")
    assert "supervision.stop_check_interval_s" in message


def test_zero_turns_the_watch_off(tmp_path: Path):
    path = write_config(tmp_path, "[supervision]\nstop_check_interval_s = 0")
    assert load_settings(path).supervision.stop_check_interval_s == 0
