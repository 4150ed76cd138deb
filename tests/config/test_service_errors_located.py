"""A config problem `run` finds only while starting its services (a token variable that is not
set, in the environment rather than the file) is printed as the loader prints its own:
`file:line: key: ...`, the line of the key or of its table (real `python bot.py run`
subprocesses). Found by review: 'bot.py: error: signals.token_env: environment variable
BOT_SIGNAL_TOKEN must hold the token' named no file and no line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAD = '[bot]\nmode = "paper"\ndata_dir = "data"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'


@pytest.mark.parametrize(("section", "line", "problem"), [
    ('[signals]\nenabled = true\ntoken_env = "MISC_REVIEW_NO_SUCH_TOKEN"\n', 8,
     "signals.token_env: environment variable MISC_REVIEW_NO_SUCH_TOKEN must hold the token"),
    ("[signals]\nenabled = true\n", 6,
     "signals.token_env: environment variable BOT_SIGNAL_TOKEN must hold the token"),
])
def test_a_service_problem_names_the_file_and_line(tmp_path: Path, section: str, line: int,
                                                  problem: str):
    config = tmp_path / "config.toml"
    config.write_text(HEAD + section)
    env = {k: v for k, v in os.environ.items()
           if k not in ("BOT_SIGNAL_TOKEN", "MISC_REVIEW_NO_SUCH_TOKEN")}
    done = subprocess.run([sys.executable, str(REPO / "bot.py"), "--config", str(config), "run",
                           "--duration", "30"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == f"bot.py: error: {config}:{line}: {problem}", \
        done.stderr
