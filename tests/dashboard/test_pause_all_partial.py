"""Telegram's /pause queues a pause on every account. One account failing midway (its database
closed) answered only '/pause FAILED', though the accounts before it were paused, and those
after it were never tried. Now every account is tried and the reply names which were paused
and which were not (real SQLite repositories; one closed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from loguru import logger

from dashboard.wiring import pause_accounts
from storage import control
from storage.repository import Repository


@pytest.fixture
def repos(tmp_path):
    made = [Repository(tmp_path / f"{n}.sqlite", synchronous="normal") for n in ("a", "b", "c")]
    yield made
    for r in made:
        r.close()


def test_a_partial_pause_says_which_accounts_were_paused(repos):
    a, b, c = repos
    b.close()  # account b's database is gone
    accounts = [SimpleNamespace(name=n, repo=r) for n, r in zip("abc", repos, strict=True)]
    reply = pause_accounts(accounts, "telegram chat 7", logger)
    assert reply.startswith("pausing new entries on 2 of 3 account(s): a, c; NOT paused "
                            "(FAILED): b: "), reply
    assert control.pending_commands(a) == [("pause", "*")]
    assert control.pending_commands(c) == [("pause", "*")]


def test_every_account_failing_is_a_failure(repos):
    for r in repos:
        r.close()
    accounts = [SimpleNamespace(name=n, repo=r) for n, r in zip("abc", repos, strict=True)]
    with pytest.raises(Exception):  # noqa: B017 - the telegram side answers '/pause FAILED'
        pause_accounts(accounts, "telegram chat 7", logger)
