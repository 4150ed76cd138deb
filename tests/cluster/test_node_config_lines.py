"""A cluster node's refusal of its configuration names the file and the line, as the loader's
refusals do (real `python bot.py run` subprocesses). Found by review: 'bot.py: error:
storage.url: cluster nodes must share the accounts' databases: ...' and 'cluster.shared_dir:
set together with storage.url ...' named no file and no line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HEAD = '[bot]\nmode = "live"\n[exchange]\nid = "bybit"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'


@pytest.mark.parametrize(("text", "line", "start"), [
    (HEAD + "[cluster]\nenabled = true\n", 8,
     "storage.url: cluster nodes must share the accounts' databases"),
    (HEAD + '[storage]\nurl = "postgresql://bot@127.0.0.1:1/bot"\n[cluster]\nenabled = true\n'
     'shared_dir = "shared"\n', 11, "cluster.shared_dir: set together with storage.url"),
])
def test_a_nodes_config_refusal_names_the_file_and_line(tmp_path: Path, text: str, line: int,
                                                        start: str):
    config = tmp_path / "config.toml"
    config.write_text(text)
    done = subprocess.run([sys.executable, str(REPO / "bot.py"), "--config", str(config), "run",
                           "--data-dir", str(tmp_path / "data")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"bot.py: error: {config}:{line}: {start}"), done.stderr
