"""The receiver's open-position limit counts an accepted entry its actor has not reached yet
together with positions other ways in opened meanwhile (a `bot.py signal`, a strategy).

Found by review: while a reservation was live the receiver counted max(open now, open at the
first reservation + reservations), so a position another way in opened meanwhile hid the
reservation. Cap 2: signal A accepted (its actor busy), B opened by a manual signal, then
signal C was answered 202 although A and B filled the cap; C's actor, free, took the last slot
and A, accepted first, was skipped when its actor got to it. README: a signal past the cap is
rejected with a 4xx. Now the count is the gate's plus each reservation whose symbol the gate
does not count yet.

Real parts: the account runtime (supervisor, pykka actors, SQLite, the paper exchange) and the
signal receiver built as the bot builds it; A's actor is held inside a reconciliation by an
exchange wrapper until the test releases it (an event, no sleep)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from loguru import logger

from actors.messages import ExternalSignal, Reconcile
from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.exchanges import build_exchange
from runtime.stop_accounts import stop_all
from signals.wiring import SignalsConfig, build_account_signal_services
from storage import queries
from supervision.child import ChildState
from tests.signals.support import TOKEN, post
from tests.support.waiting import wait_until
from trading.model import Side

A, B, C = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"

CONFIG = f"""
[bot]
mode = "paper"
data_dir = "data"
[exchange]
poll_interval_s = 0.05
[symbols]
list = ["{A}", "{B}", "{C}"]
[strategy]
window = 10000
[risk]
max_open_positions = 2
[paper]
latency_ms = 0
[supervision]
heartbeat_interval_s = 0.05
heartbeat_timeout_s = 30
reconcile_interval_s = 3600
[dashboard]
enabled = false
[logging]
console = false
"""


class HeldReconcile:
    """The account's exchange; once armed, A's next position read waits for `release`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.armed = False
        self.reached = threading.Event()
        self.release = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def fetch_positions(self, symbols: Any = None, params: Any = None) -> Any:
        if self.armed and symbols == [A]:
            self.armed = False
            self.reached.set()
            assert self.release.wait(60), "never released"
        return self.inner.fetch_positions(symbols, params)


def _opened(account: AccountRuntime) -> set[str]:
    assert account.repo is not None
    return {e["symbol"] for e in account.repo.read(queries.events, None, "PositionOpened")}


def test_an_accepted_entry_not_yet_reached_still_holds_its_place(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    settings = load_settings(path)
    box: dict[str, HeldReconcile] = {}

    def exchange(s: Any, data_dir: Path) -> HeldReconcile:
        box["x"] = HeldReconcile(build_exchange(s, data_dir))
        return box["x"]

    account = AccountRuntime(settings, settings.data_dir_path(), logger=logger, tagged=False,
                             build_exchange_=exchange)
    services = None
    try:
        account.open()
        account.build()
        account.start()
        sup, held = account.sup, box["x"]
        assert sup is not None
        wait_until(lambda: all(c.state is ChildState.RUNNING for c in sup.children.values())
                   and all(account.views[s].view().reconciled for s in (A, B, C)),
                   timeout=30, message="every actor running and reconciled")
        services = build_account_signal_services(
            SignalsConfig(enabled=True, port=0, entry_reserve_s=120.0),
            accounts=[account.signal_account()], logger=logger,
            environ={"BOT_SIGNAL_TOKEN": TOKEN})
        services.start()
        url = services.http.url

        held.armed = True  # A's actor is busy in a reconciliation
        assert sup.tell(A, Reconcile(reason="test"))
        assert held.reached.wait(30)
        status, body = post(url, {"id": "sig-a", "symbol": A, "side": "long"})
        assert status == 202, body  # accepted: waits in A's mailbox
        assert sup.deliver_signal(B, ExternalSignal(side=Side.LONG, signal_id="cli-b",
                                                    reason="manual"))
        wait_until(lambda: B in _opened(account), timeout=30, message="B opened")

        status, body = post(url, {"id": "sig-c", "symbol": C, "side": "long"})
        assert (status, body.get("status")) == (409, "rejected"), body  # A and B fill the cap
        assert body["reason"] == "max open positions reached (2 open or opening, limit 2)"

        held.release.set()
        wait_until(lambda: A in _opened(account), timeout=30, message="A opened")
        assert _opened(account) == {A, B}
    finally:
        if "x" in box:
            box["x"].release.set()
        if services is not None:
            services.stop()
        stop_all([account], logger)
        account.close()
