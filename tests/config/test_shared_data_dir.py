"""The bot makes its data dir 0700 and everything in it 0600. A data dir that is not the bot's
to change (the file system's root, the user's home folder, a sticky world-writable folder such
as /tmp) is refused before anything is touched: one line naming `bot.data_dir` (found by
review: `--data-dir /tmp` as root took /tmp's sticky bit and world write away). Real files,
real `python bot.py` subprocesses."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import load_settings
from tests.config.test_cli_leftovers import bot, one_error_line


def config(tmp_path: Path, data_dir: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[bot]\ndata_dir = "{data_dir}"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n')
    return path


def test_a_sticky_world_writable_data_dir_is_refused_and_left_as_it_is(tmp_path: Path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    (shared / "someone-elses.txt").write_text("x")
    os.chmod(shared / "someone-elses.txt", 0o644)
    with pytest.raises(ConfigError, match=r"bot\.data_dir: .*shared by every user"):
        load_settings(config(tmp_path, str(shared)))
    line = one_error_line(bot(config(tmp_path, "unused"), "run", "--data-dir", str(shared)))
    assert "bot.data_dir" in line and str(shared) in line
    # the command line set it: the line names --data-dir, not the file's line 2 ("unused")
    assert f"--data-dir (bot.data_dir): {shared}" in line
    assert "config.toml:2" not in line
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(shared / "someone-elses.txt").st_mode) == 0o644


def test_the_home_folder_is_refused(tmp_path: Path):
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home)}
    line = one_error_line(bot(config(tmp_path, "~"), "run", env=env))
    assert f"bot.data_dir: {home} is your home folder" in line


def test_the_root_is_refused(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"bot\.data_dir: / is the file system's root"):
        load_settings(config(tmp_path, "/"))


def test_a_folder_of_its_own_is_fine(tmp_path: Path):
    assert load_settings(config(tmp_path, str(tmp_path / "bot-data"))).data_dir_path() == \
        tmp_path / "bot-data"
