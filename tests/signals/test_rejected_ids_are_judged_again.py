"""A rejected signal claims no id: sent again with the same id it is judged again, in the same
run and after a restart alike. Found by review: a retry after a 422 or 429 was answered
"duplicate" although nothing was done, and after a restart it depended on the log throttle -
an id whose rejection was recorded stayed a duplicate, one whose rejection the throttle held
back (one record a second) was accepted and opened a position.

Real parts: the account runtime (supervisor, pykka actors, SQLite journal, the paper
exchange), the real signal HTTP server as the bot builds it, and a second account runtime on
the same data dir for the restart."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

from loguru import logger

from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.stop_accounts import stop_all
from signals.wiring import SignalsConfig, build_account_signal_services
from storage import queries
from supervision.child import ChildState
from tests.signals.support import TOKEN, post
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"

CONFIG = f"""
[bot]
mode = "paper"
data_dir = "data"
[exchange]
id = "paper"
poll_interval_s = 0.05
[symbols]
list = ["{BTC}", "{ETH}"]
[risk]
order_size_usdt = 100
max_open_positions = 5
[paper]
latency_ms = 0
[supervision]
heartbeat_interval_s = 0.05
heartbeat_timeout_s = 10
reconcile_interval_s = 3600
[logging]
console = false
"""


@contextmanager
def running(path: Path, settled: bool = True) -> Iterator[tuple[AccountRuntime, str]]:
    settings = load_settings(path)
    account = AccountRuntime(settings, settings.data_dir_path(), logger=logger, tagged=False)
    services = None
    try:
        account.open()
        account.build()
        account.start()
        # reconciled is published inside the start, before the supervisor handles the start's
        # report; a signal is refused as "not running" until then: wait for both
        sup = account.sup
        assert sup is not None
        wait_until(lambda: all((p := account.views.get(s)) is not None and p.view().reconciled
                               and sup.children[s].state is ChildState.RUNNING
                               for s in (BTC, ETH) if settled or s == BTC),
                   timeout=30, message="actors reconciled and running")
        services = build_account_signal_services(
            SignalsConfig(enabled=True, port=0, max_size_usdt=Decimal(500)),
            accounts=[account.signal_account()], logger=logger,
            environ={"BOT_SIGNAL_TOKEN": TOKEN})
        services.start()
        yield account, services.http.url
    finally:
        if services is not None:
            services.stop(timeout_s=5)
        stop_all([account], logger)
        account.close()


def journal(account: AccountRuntime, signal_id: str) -> list[str]:
    return [e["type"] for e in account.repo.read(queries.events)
            if e["correlation_id"] == signal_id]


def test_a_rejected_id_is_judged_again_before_and_after_a_restart(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    too_big = {"side": "long", "size_usdt": 1000}  # over signals.max_size_usdt = 500
    with running(path) as (account, url):
        status, body = post(url, {"id": "r-0", "symbol": BTC, **too_big})
        assert (status, body["status"]) == (422, "rejected"), body
        status, body = post(url, {"id": "r-0", "symbol": BTC, "side": "long"})
        assert (status, body["status"]) == (202, "accepted"), body  # judged again, not a dup
        status, body = post(url, {"id": "r-0", "symbol": BTC, "side": "long"})
        assert body["status"] == "duplicate", body  # received once: now it is one
        # rejections in a row: the throttle records one a second with its id, holds the rest
        sent: list[str] = []

        def one_of_each() -> bool:
            sid = f"r-{len(sent) + 1}"
            status, body = post(url, {"id": sid, "symbol": ETH, **too_big})
            assert (status, body["status"]) == (422, "rejected"), body
            sent.append(sid)
            kinds = {"SignalRejected" in journal(account, s) for s in sent}
            return kinds == {True, False}

        wait_until(one_of_each, timeout=15, interval=0.05,
                   message="one rejection recorded with its id and one held back")
        recorded = [s for s in sent if "SignalRejected" in journal(account, s)]
        held = [s for s in sent if s not in recorded]
    with running(path) as (account, url):
        for sid in (recorded[0], held[0]):  # the same rule for both
            status, body = post(url, {"id": sid, "symbol": ETH, "side": "exit"})
            assert (status, body["status"]) == (202, "accepted"), (sid, body)
            wait_until(lambda sid=sid: "SignalReceived" in journal(account, sid), timeout=10,
                       message=f"{sid} received")
        assert post(url, {"id": "r-0", "symbol": BTC, "side": "long"})[1]["status"] == (
            "duplicate")  # a received id stays claimed across the restart


def test_a_skipped_id_is_judged_again_once_its_actor_runs(tmp_path: Path):
    """A signal answered 409 'skipped' (its symbol's actor was not running) claimed its id:
    the sender's retry, once the actor ran again, was told 'duplicate' and nothing traded
    (found by review). It is journaled as skipped only, and its id stays free."""
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    with running(path):
        pass
    db = sqlite3.connect(tmp_path / "data" / "bot.sqlite")
    db.execute("UPDATE actor_state SET phase = 'garbage' WHERE symbol = ?", (ETH,))
    db.commit()
    with running(path, settled=False) as (account, url):
        wait_until(lambda: account.sup.children[ETH].state is ChildState.QUARANTINED,
                   timeout=30, message="ETH quarantined: its state cannot be read")
        status, body = post(url, {"id": "k-1", "symbol": ETH, "side": "long"})
        assert (status, body["status"]) == (409, "skipped"), body
        assert journal(account, "k-1") == ["SignalAccepted", "SignalSkipped"]
        db.execute("UPDATE actor_state SET phase = 'flat' WHERE symbol = ?", (ETH,))
        db.commit()
        account.sup.resume(ETH)
        wait_until(lambda: account.sup.children[ETH].state is ChildState.RUNNING,
                   timeout=30, message="ETH running again")
        status, body = post(url, {"id": "k-1", "symbol": ETH, "side": "long"})
        assert (status, body["status"]) == (202, "accepted"), body
        wait_until(lambda: "SignalReceived" in journal(account, "k-1"), timeout=10,
                   message="k-1 received")
    db.close()
