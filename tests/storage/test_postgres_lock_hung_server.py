"""The schema lock's own session (storage/pg_lock.py) on a PostgreSQL server that stops
answering without dropping the connection (a hung server, a middlebox swallowing bytes: the
peer's kernel still acknowledges, so TCP keepalives and TCP_USER_TIMEOUT never fire). Its
check of the session ran without a deadline while holding the lock's mutex, so `release()`,
the last step of a bot's graceful stop, waited for ever: SIGTERM never ended the bot (found by
review). Real PostgreSQL behind a blackholing TCP proxy."""

from __future__ import annotations

import threading

from storage.pg_lock import SchemaLock
from tests.support.postgres import host_port, pg_url, with_host_port  # noqa: F401 - fixture
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until


def test_release_returns_while_the_lock_session_hangs(pg_url: str) -> None:  # noqa: F811
    host, port = host_port(pg_url)
    with TcpProxy(host, port) as proxy:
        lock = SchemaLock(with_host_port(pg_url, "127.0.0.1", proxy.port), "bot_main",
                          "account main", grace_s=0)
        lock.acquire()
        lost: list[str] = []
        lock.keep(lost.append)
        proxy.blackhole()
        # the keeper's next look at the session (every 2 s) hangs, holding the lock's mutex
        wait_until(lambda: lock._mutex.locked(), timeout=10, interval=0.005,
                   message="the session check in flight")
        released = threading.Thread(target=lock.release, name="release", daemon=True)
        released.start()
        wait_until(lambda: not released.is_alive(), timeout=60,
                   message="release() to return while the server hangs")
        assert not lock.held and lost == []
