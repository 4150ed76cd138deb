"""A dashboard.token_file or telegram.token_file naming a folder was answered "has mode 0755;
must be 0600 (run: chmod 600 ...)" (found by review): the advice was wrong, and followed it
led to a second error ("Is a directory"). The line now says what is wrong: not a regular
file, as exchange.secrets_file's check does. Real folder, real `python bot.py` subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.errors import ConfigError
from notifications.secret import read_token

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("key", ["dashboard.token_file", "telegram.token_file"])
def test_a_token_file_that_is_a_folder_is_named_as_such(tmp_path: Path, key: str):
    folder = tmp_path / "tokens"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    with pytest.raises(ConfigError) as info:
        read_token(key=key, env_name="", file="tokens", base=tmp_path)
    assert str(info.value) == f"{key}: {folder} is not a regular file"


def test_the_start_says_so_in_one_line(tmp_path: Path):
    (tmp_path / "tokens").mkdir(mode=0o755)
    (tmp_path / "tokens").chmod(0o755)
    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      '[dashboard]\nport = 0\ntoken_file = "tokens"\n[logging]\nconsole = false\n')
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "--config", str(config),
                           "--duration", "5"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: {config}:7: dashboard.token_file: "
                           f"{tmp_path / 'tokens'} is not "
                           "a regular file\n")
