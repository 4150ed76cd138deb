"""A cluster node does not serve Telegram or the signal endpoint (README, Cluster). Found by
review: a node configured with `[telegram] enabled = true` ran without a word about it, so its
escalations and takeovers never reached a chat and nobody was told. The node now says so in
one WARNING line naming the keys. A real `bot.py run` node on a real PostgreSQL (its exchange
unreachable: the line comes before any account runs)."""

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
[symbols]
list = ["BTC/USDT:USDT"]
[storage]
url = "{url}"
[dashboard]
enabled = false
[telegram]
enabled = true
chat_ids = [42]
[signals]
enabled = true
port = 0
[cluster]
enabled = true
exchange_timeout_ms = 2000
"""


def test_a_node_says_which_enabled_services_it_does_not_serve(tmp_path: Path,
                                                              pg_url: str) -> None:
    config = tmp_path / "config.toml"
    env = {**os.environ, "BOT_API_KEY": "k", "BOT_API_SECRET": "s"}
    with socket.socket() as unreachable:  # bound, not listening: refused, and nobody's else
        unreachable.bind(("127.0.0.1", 0))
        config.write_text(CONFIG.format(port=unreachable.getsockname()[1], url=pg_url))
        done = subprocess.run([sys.executable, "bot.py", "run", "--duration", "1", "--config",
                               str(config)], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
    log = (tmp_path / "data" / "logs" / "bot.log").read_text()
    assert done.returncode == 0, done.stderr[-2000:]
    said = [line for line in log.splitlines() if "not served on a cluster node" in line]
    assert len(said) == 1, log[-3000:]
    assert "WARNING" in said[0] and "telegram.enabled, signals.enabled" in said[0]


def test_the_dashboard_is_named_only_when_the_config_turns_it_on(tmp_path: Path) -> None:
    """The dashboard is on by default, and a node does not serve it. Mutation audit: naming it
    whenever it is on (not only when the file sets it) survived every test naming the module:
    every node whose config leaves `[dashboard]` out then warned at each start about a service
    nobody asked for. Only a file that sets `dashboard.enabled = true` is told."""
    from config.loader import load_settings
    from runtime.cluster_node import unserved_services

    base = (CONFIG.format(port=1, url="postgresql://u@127.0.0.1:1/db")
            .replace("[dashboard]\nenabled = false\n", "")
            .replace("[telegram]\nenabled = true\nchat_ids = [42]\n", "")
            .replace("[signals]\nenabled = true\nport = 0\n", ""))
    config = tmp_path / "config.toml"
    config.write_text(base)
    assert unserved_services(load_settings(config)) == ""
    config.write_text(base + "[dashboard]\nenabled = true\n")
    assert unserved_services(load_settings(config)) == "dashboard.enabled"
