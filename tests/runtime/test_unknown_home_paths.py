"""A path starting with `~user` for a user that does not exist (a typo, or a config copied from
another machine) is one line naming the option or key. Found by review: pathlib's expanduser
raised `RuntimeError: Could not determine home directory.` and the bot said `unexpected
RuntimeError in run: Could not determine home directory.`, naming neither the key nor the path.
`python bot.py` as a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOBODY = "~no-such-user-actorbot"


def bot(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def one_line(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, r.stderr
    assert len(r.stderr.splitlines()) == 1 and "unexpected" not in r.stderr, r.stderr
    return r.stderr


@pytest.mark.parametrize("option", ["--data-dir", "--config"])
def test_an_option_naming_an_unknown_users_home_is_one_line(tmp_path, option):
    (tmp_path / "config.toml").write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n')
    line = one_line(bot(tmp_path, "status", option, f"{NOBODY}/x"))
    assert line.startswith(f"bot.py: error: {option}: {NOBODY}: no such user"), line


@pytest.mark.parametrize(("table", "key"), [
    ("bot", "data_dir"), ("storage", "path"), ("paper", "store"),
    ("exchange", "markets_cache"), ("exchange", "secrets_file"),
])
def test_a_config_path_naming_an_unknown_users_home_is_one_line(tmp_path, table, key):
    (tmp_path / "config.toml").write_text(
        f'[symbols]\nlist = ["BTC/USDT:USDT"]\n[{table}]\n{key} = "{NOBODY}/x"\n')
    line = one_line(bot(tmp_path, "status"))
    assert line.startswith(f"bot.py: error: config.toml:4: {table}.{key}: {NOBODY}: no such "
                           "user"), line
