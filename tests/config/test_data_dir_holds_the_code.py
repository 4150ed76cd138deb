"""A data dir that is the bot's own checkout or a folder above it (`python bot.py --data-dir .`
in the checkout, `bot.data_dir = ".."`) was accepted (found by review): the bot makes its data
dir 0700 and everything in it 0600 (runtime/private_files.py), so it rewrote the modes of the
code, the README, `.git` and the venv, files that are not the bot's, as it would have in the
refused home folder. Refused before anything is touched, in one line naming bot.data_dir.
Checked through the loader only: a run on the old code would have changed this checkout."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import load_settings

ROOT = Path(__file__).resolve().parents[2]


def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n')
    return path


@pytest.mark.parametrize("data_dir", [ROOT, ROOT.parent])
def test_the_checkout_or_a_folder_above_it_is_refused(tmp_path: Path, data_dir: Path):
    with pytest.raises(ConfigError) as info:
        load_settings(config(tmp_path), data_dir_override=data_dir)
    line = str(info.value)
    assert "\n" not in line
    assert line.startswith(f"{tmp_path / 'config.toml'}: --data-dir (bot.data_dir): {data_dir}")
    assert "the bot's own code" in line


def test_a_folder_inside_the_checkout_is_still_fine(tmp_path: Path):
    inside = ROOT / "data-of-a-test-never-made"
    settings = load_settings(config(tmp_path), data_dir_override=inside)
    assert settings.data_dir_path() == inside
    assert not inside.exists()  # the loader only reads
