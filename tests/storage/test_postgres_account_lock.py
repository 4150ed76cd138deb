"""With `storage.url` the account's schema is locked on the server, not only by a file in the data
dir: a second `python bot.py run` with the same config and another --data-dir is refused (exit 3,
one line naming the account) while `status` and `signal` still work; the lock comes back after its
session is cut, a bot whose lock was taken over meanwhile stops, and the lock is free again once
the bot stopped."""

from __future__ import annotations

import signal

import psycopg
import pytest

from tests.e2e.bot_process import cli, log_tails, start_bot, wait_status, write_config
from tests.support.postgres import pg_url  # noqa: F401 - the fixture
from tests.support.waiting import wait_until

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
pytestmark = pytest.mark.slow


def ready(s: dict) -> bool:
    return all(a["state"] == "running" and a["reconciled"] for a in s["actors"])


def config_for(tmp_path, url: str):  # noqa: ANN001, ANN201
    return write_config(
        tmp_path / "config.toml", SYMBOLS,
        bot={"status_interval_s": 0.2}, exchange={"poll_interval_s": 0.2},
        strategy={"window": 10000}, logging={"console": False}, storage={"url": url},
    )


def lock_sessions(url: str, pid: int) -> list[int]:
    """Backend PIDs of the sessions of bot `pid` holding a session-level advisory lock."""
    with psycopg.connect(url, autocommit=True) as con:
        return [row[0] for row in con.execute(
            "SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE %s",
            (f"bot.py pid {pid} %",)).fetchall()]


def refused(config, data) -> str:  # noqa: ANN001
    second = start_bot(config, data, "--duration", "60")
    try:
        _, err = second.communicate(timeout=90)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 3, err[-2000:]
    (line,) = err.strip().splitlines()
    return line


def test_a_second_bot_on_the_same_schema_is_refused_until_the_first_stops(tmp_path, pg_url):  # noqa: F811
    config = config_for(tmp_path, pg_url)
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first = start_bot(config, first_dir)
    try:
        wait_status(config, first_dir, ready, timeout=90, message="first bot running")
        line = refused(config, second_dir)
        assert "account main" in line and "bot_main" in line and f"pid {first.pid}" in line
        assert not (second_dir / "logs" / "bot.log").exists()  # refused before it logs
        # the commands that open the database briefly are not held up by the lock
        assert cli(config, first_dir, "status").returncode == 0
        queued = cli(config, first_dir, "signal", SYMBOLS[0], "long", timeout=30)
        assert queued.returncode == 0, queued.stderr
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
    second = start_bot(config, second_dir)
    try:
        wait_status(config, second_dir, ready, timeout=90, message="second bot running")
        second.send_signal(signal.SIGTERM)
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err[-2000:]
    finally:
        if second.poll() is None:
            second.kill()


def test_a_cut_lock_session_is_taken_again_and_a_lock_taken_over_stops_the_bot(
    tmp_path, pg_url  # noqa: F811
):
    config = config_for(tmp_path, pg_url)
    data = tmp_path / "a"
    bot = start_bot(config, data)
    try:
        wait_status(config, data, ready, timeout=90, message="bot running")
        (session,) = wait_until(lambda: lock_sessions(pg_url, bot.pid), timeout=10,
                                message="the bot's lock session")
        with psycopg.connect(pg_url, autocommit=True) as con:
            con.execute("SELECT pg_terminate_backend(%s)", (session,))
        again = wait_until(lambda: [s for s in lock_sessions(pg_url, bot.pid) if s != session],
                           timeout=30, message="the lock taken again on a new session")
        assert "account main" in refused(config, tmp_path / "b")

        # cut again, and another holder takes the lock first: the bot stops with exit 3
        from storage.pg_lock import lock_keys

        space, key = lock_keys("bot_main")
        with psycopg.connect(pg_url, autocommit=True) as thief:
            thief.execute("SELECT pg_terminate_backend(%s)", (again[0],))
            wait_until(lambda: thief.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                             (space, key)).fetchone()[0],
                       timeout=10, message="the test holds the lock")
            _, err = bot.communicate(timeout=60)
        assert bot.returncode == 3, err[-2000:]
        assert "lock on schema bot_main" in err.strip().splitlines()[-1]
    finally:
        if bot.poll() is None:
            bot.kill()
    log = (data / "logs" / "bot.log").read_text()
    assert "lock on schema bot_main" in log and "bot stopped" in log, log_tails(data)
