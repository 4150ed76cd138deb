"""A node whose leases database stops answering between its start checks (the tables created)
and its first heartbeat: one line naming the config key that set the database, as when the
tables cannot be created. Found by review: the LeaseStoreUnavailable of the first heartbeat
left `NodeRun.start` as it was and bot.py printed 'unexpected LeaseStoreUnavailable in run'
with a traceback file, naming no key. Real PostgreSQL behind a TCP proxy that is cut."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from config.loader import load_settings
from runtime.cluster_node import NodeRun
from runtime.wiring import StartupError
from tests.cluster.test_node_settings import config
from tests.support.tcp_proxy import TcpProxy


def test_a_first_heartbeat_that_fails_names_the_key(tmp_path: Path, pg_url: str) -> None:
    parts = urlsplit(pg_url)
    with TcpProxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        netloc = f"{parts.username}@127.0.0.1:{proxy.port}"
        url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        s = load_settings(config(tmp_path, storage=f'[storage]\nurl = "{url}"',
                                 cluster="exchange_timeout_ms = 2500"))
        run = NodeRun(s, tmp_path / "data",  # the tables are created through the proxy
                      environ={"BOT_API_KEY": "k", "BOT_API_SECRET": "s"})
        proxy.cut()
        with pytest.raises(StartupError) as err:
            run.start()
        run.stop()
    message = str(err.value)
    assert message.startswith("storage.url: cluster database: ") and "\n" not in message
