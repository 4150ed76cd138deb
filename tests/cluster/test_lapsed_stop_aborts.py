"""A node stopping an account whose lease lapsed aborts the account's database calls in flight
before it waits for the run loop's step (runtime/node_accounts.py `NodeAccount.stop`), also
when no status read has failed yet: the keeper found the lapse first (its renewal is the first
call to miss its deadline), or the leases are in another database than the account's storage.

Mutation audit: keeping only `repo.unreachable` in the stop's condition survived every test:
the blackholed-database tests also had a status read fail first. Without the abort the node
thread (which watches every lease) waits for the step's call up to the database deadline.

The step so cut short raises AccountLeft (the run loop skips it quietly, as any step of an
account leaving), not the aborted call's error (an ERROR with a traceback in the node's log).

Real AccountRuntime (paper exchange, actors) on real PostgreSQL storage; the run loop's real
controls step is held in the server by a lock another session holds on the controls table (the
call does not answer, as on a hung server); the lapsed lease is a keeper injected through the
NodeAccount's constructor."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
from loguru import logger

from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.node_accounts import NodeAccount
from runtime.round_gate import AccountLeft
from storage.cluster_database import query_deadline
from storage.opening import account_schema
from tests.runtime.test_hook_outbox_closed_with_account import CONFIG
from tests.support.waiting import wait_until

DEADLINE_S = query_deadline(5.0)
"""The account storage's call deadline (storage/database.py: network_timeout_s 5)."""


class Lapsed:
    """The account's lease keeper after its lease lapsed."""

    def may_act(self) -> bool:
        return False


def test_a_lapsed_lease_aborts_the_calls_in_flight_before_the_stop_waits(
        pg_url: str, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG + f'[storage]\nurl = "{pg_url}"\n')
    settings = load_settings(config)
    settings.data_dir_path().mkdir(parents=True)
    account = AccountRuntime(settings, settings.data_dir_path(), logger=logger, tagged=False)
    handle = NodeAccount(account, Lapsed())
    step_error: list[BaseException] = []
    stuck: list[list[str]] = []

    def controls_step() -> None:  # the run loop's step (runtime/runner.py)
        try:
            account.apply_controls()
        except BaseException as exc:  # noqa: BLE001 - looked at below
            step_error.append(exc)

    table = f'"{account_schema(settings.bot.account)}".control'
    with psycopg.connect(pg_url) as locker:
        try:
            account.open()
            account.build()
            account.start()
            wait_until(handle.ready, timeout=60, message="the account runs")
            assert account.repo is not None and account.repo.unreachable is None
            locker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
            step = threading.Thread(target=controls_step, name="run-loop", daemon=True)
            step.start()
            with psycopg.connect(pg_url, autocommit=True) as watch:
                wait_until(lambda: watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND query ILIKE '%control%'").fetchone() == (1,),
                    timeout=30, message="the controls step waits on the server")
            stopper = threading.Thread(target=lambda: stuck.append(handle.stop()),
                                       name="node-thread", daemon=True)
            stopper.start()
            stopper.join(DEADLINE_S)  # the deadline itself: the calls are aborted, not waited
            assert not stopper.is_alive(), (
                f"the stop of a lapsed account waited out the database deadline ({DEADLINE_S:g}s)")
            step.join(DEADLINE_S)
            [error] = step_error
            # cut short by the stop, the step is skipped as one of an account leaving (its
            # controls stay queued for the next owner; runtime/round_gate.py), not failed: found
            # by the partition tests, each such step logged "controls of account acct0 failed:
            # database closed: its calls were aborted" at ERROR with a traceback
            assert isinstance(error, AccountLeft), repr(error)
            assert "did not answer" not in str(error.__cause__), error  # ended by the abort,
            # not the deadline (the abort shuts the call's socket: "server closed the ...")
            assert stuck == [[]]
        finally:
            locker.rollback()
            if not stuck:
                account.stop()
            account.close()
