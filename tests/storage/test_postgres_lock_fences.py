"""A bot on PostgreSQL outside a cluster owns its account by the schema lock (storage/pg_lock.py),
held by one database session. When that session is cut (a network blip, pg_terminate_backend, a
server restart) a second bot can take the lock and start before the first notices (its keeper
looks every CHECK_S). Found by review: nothing tied the first bot's commits and exchange requests
to the lock, only each symbol's incarnation, which the second bot bumps only once its actor for
that symbol starts. So the first bot committed decisions (and then sent the orders they imply)
after the second held the lock, and after it noticed the loss its exchange requests still went
out until its actors had stopped.

Real parts: the bot's own lock, keeper and account runtime (`Bot`, in-process, without `run`'s
signal handlers and log sinks), its repository on a real server, the second bot's lock taken by
another session, as `python bot.py run` would."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest
from loguru import logger

from config.loader import load_settings
from runtime.runner import Bot
from runtime.stop_accounts import close_all
from storage.pg_lock import LockLost, lock_keys
from storage.repository import Fenced
from tests.e2e.bot_process import write_config
from tests.support.postgres import pg_url  # noqa: F401 - the fixture
from tests.support.waiting import wait_until
from trading.decision import Decision

BTC = "BTC/USDT:USDT"
pytestmark = pytest.mark.slow


def lock_session(url: str) -> int | None:
    """Backend PID of the session holding account main's schema lock."""
    space, key = lock_keys("bot_main")
    with psycopg.connect(url, autocommit=True) as con:
        row = con.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
            "AND classid = %s::bigint::oid AND objid = %s::bigint::oid",
            (space, key & 0xFFFFFFFF)).fetchone()
    return None if row is None else int(row[0])


def test_a_bot_whose_lock_a_second_bot_took_commits_and_sends_nothing(tmp_path, pg_url):  # noqa: F811
    config = write_config(tmp_path / "config.toml", [BTC], logging={"console": False},
                          storage={"url": pg_url})
    settings = load_settings(config)
    data = tmp_path / "a"
    data.mkdir(mode=0o700)
    bot = Bot(settings, data)
    locks = bot._acquire_locks()
    try:
        bot._keep_schema_locks(locks, logger)
        bot._open_accounts(logger)
        (account,) = bot.accounts
        account.build()
        repo = account.repo
        incarnation = repo.claim(BTC)
        before = repo.load(BTC)

        def commit(cooldown: float) -> None:
            state = dataclasses.replace(before, cooldown_until=cooldown)
            repo.commit(BTC, incarnation, before, Decision(state=state), correlation_id="c",
                        created_at=1.0)

        commit(1.0)  # the lock held: committed
        account.sup.fences.issue(BTC).check()  # and its exchange requests go out

        session = lock_session(pg_url)
        assert session is not None
        space, key = lock_keys("bot_main")
        with psycopg.connect(pg_url, autocommit=True) as second:
            second.execute("SELECT pg_terminate_backend(%s)", (session,))
            wait_until(lambda: second.execute("SELECT pg_try_advisory_lock(%s, %s)",
                                              (space, key)).fetchone()[0],
                       timeout=10, message="the second bot holds the lock")
            # the second bot has not started the symbol yet (its incarnation is unchanged), and
            # the first may not have noticed yet: its commit is refused all the same
            with pytest.raises(LockLost, match="bot_main"):
                commit(2.0)
            wait_until(lambda: bot.lock_lost, timeout=30, message="the first bot told")
            assert "lock on schema bot_main" in bot.lock_lost
            # its exchange requests (each attempt and retry, through the symbol's fence) too
            with pytest.raises(LockLost, match="taken by another process"):
                account.sup.fences.issue(BTC).check()
            with pytest.raises(LockLost):
                commit(3.0)
            # once the second bot's actor started the symbol, its incarnation fences it anyway
            second.execute("UPDATE bot_main.actor_state SET incarnation = incarnation + 1 "
                           "WHERE symbol = %s", (BTC,))
            with pytest.raises((LockLost, Fenced)):
                commit(4.0)
            stored = second.execute("SELECT cooldown_until FROM bot_main.actor_state "
                                    "WHERE symbol = %s", (BTC,)).fetchone()[0]
            assert float(stored) == 1.0
    finally:
        close_all(bot.accounts, logger)
        for lock in reversed(locks):
            lock.release()
