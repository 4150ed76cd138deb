"""A cluster node whose environment lacks an account's API key variables is refused at its
start in one line naming them (exit 2), as a single bot is (README, Shared paper exchange:
"without them it exits 2 naming the variables"; cluster nodes trade "exactly as above").
Found by the README audit: the node started, took the lease, failed the account's start with a
traceback in its log ("environment variable(s) not set") and tried again after 1, 2, 4 ... 60 s
for as long as it ran: it never stopped and the person saw nothing on the terminal. A real
`bot.py run` node on a real PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.cluster.test_node_settings import REPO

CONFIG = """
[bot]
mode = "live"
data_dir = "data"
[exchange]
id = "bybit"
api_url = "http://127.0.0.1:{port}"
timeout_ms = 2000
streams = false
api_key_env = "NODE_TEST_KEY"
api_secret_env = "NODE_TEST_SECRET"
[symbols]
list = ["BTC/USDT:USDT"]
[storage]
url = "{url}"
[dashboard]
enabled = false
[cluster]
enabled = true
exchange_timeout_ms = 2000
"""


def run_node(tmp_path: Path, pg_url: str, **keys: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "config.toml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("NODE_TEST_")}
    env.update(keys)
    with socket.socket() as unreachable:  # bound, not listening: refused, and nobody's else
        unreachable.bind(("127.0.0.1", 0))
        config.write_text(CONFIG.format(port=unreachable.getsockname()[1], url=pg_url))
        return subprocess.run([sys.executable, "bot.py", "run", "--duration", "4", "--config",
                               str(config)], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=120, check=False)


def test_a_node_without_the_key_variables_is_refused_in_one_line(tmp_path: Path,
                                                                  pg_url: str) -> None:
    done = run_node(tmp_path, pg_url, NODE_TEST_SECRET="s")
    assert done.returncode == 2, (done.returncode, done.stderr[-2000:])
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "exchange.api_key_env: environment variable NODE_TEST_KEY is not set" in lines[0]
    assert "NODE_TEST_SECRET" not in lines[0]  # it is set: only the missing one is named
    log = tmp_path / "data" / "logs" / "bot.log"
    assert not log.exists() or "lease acquired" not in log.read_text()  # refused before


def test_a_node_with_its_keys_starts(tmp_path: Path, pg_url: str) -> None:
    done = run_node(tmp_path, pg_url, NODE_TEST_KEY="k", NODE_TEST_SECRET="s")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "lease acquired" in (tmp_path / "data" / "logs" / "bot.log").read_text()
