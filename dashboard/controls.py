"""Control actions from the dashboard and the API, written to the account's control table.

The run loop applies them (``AccountRuntime.apply_controls``): each goes to its symbol's mailbox
(``Resume``, ``ExternalSignal(side=None)`` to close, ``BlockEntries`` for a pause or the kill
switch) and is journaled with who asked and when. The table works across processes, so the
dashboard never needs a reference to an actor.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from dashboard.source import AccountHandle
from signals.parsing import did_you_mean
from storage import control
from storage.writer import writes_within

ACCOUNT_COMMANDS = ("pause", "unpause", "kill_switch", "kill_switch_reset")
SYMBOL_COMMANDS = ("resume", "close")
PROTECTIONS = ("daily_loss_limit", "max_drawdown", "stoploss_guard")


CONTROL_STORE_S = 10.0
"""How long a control waits for the database to store its row (the writer's own bound: 60 s)."""


class BadControl(ValueError):
    """The request names an unknown command, symbol or protection (one line, shown as 400)."""


class Unconfirmed(Exception):
    """The row was not stored within CONTROL_STORE_S: it stays queued and may still commit, so
    the control may still be carried out (found by review: answered "database error", and the
    kill switch a person was told had failed tripped a moment later)."""


def queue_control(account: AccountHandle, body: dict[str, Any], by: str) -> dict[str, Any]:
    command = str(body.get("command") or "")
    symbol = body.get("symbol")
    extra: dict[str, Any] = {}
    if command in ACCOUNT_COMMANDS:
        symbol = "*"
    elif command in SYMBOL_COMMANDS:
        _check_symbol(account, symbol)
        if command == "close":
            if not account.takes_close:  # it would answer 202 and journal SignalSkipped
                raise BadControl(f"command: close is not taken by account {account.name}'s "
                                 "hedge grid (it trades its own levels); pause the account "
                                 "or use the kill switch")
            command = "signal"
            extra = {"side": "exit", "signal_id": f"dashboard-{uuid.uuid4().hex[:12]}"}
    elif command == "reset_protection":
        name = str(body.get("name") or "")
        if name not in PROTECTIONS:
            raise BadControl(f"name: unknown protection {name!r} (choose from: "
                             f"{', '.join(PROTECTIONS)})")
        if account.protections is not None and name not in account.protections:
            # it was queued (202) and journaled "unknown protection" by the run loop
            has = ", ".join(account.protections) or "none configured"
            raise BadControl(f"name: account {account.name} has no {name} protection "
                             f"(it has: {has})")
        if name == "stoploss_guard":
            _check_symbol(account, symbol)
        else:
            symbol = "*"
        extra = {"name": name}
    else:
        allowed = ", ".join((*ACCOUNT_COMMANDS, *SYMBOL_COMMANDS, "reset_protection"))
        raise BadControl(f"command: unknown {command!r} (choose from: {allowed})")
    try:
        with writes_within(CONTROL_STORE_S):
            # a second press of the same control while the first is still queued (a double
            # click, a second tab) is that one, not another: a double click on "close" queued
            # two exits, and "pause" was journaled twice (found by review in a real browser)
            cid, new = control.request_once(account.repo, command, str(symbol), by=by,
                                            requested_at=time.time(), **extra)
    except TimeoutError:
        raise Unconfirmed(f"not confirmed: account {account.name}'s database did not store "
                          f"{command} within {CONTROL_STORE_S:g}s; it stays queued and may still "
                          "be carried out: check the status before sending it again") from None
    return {"status": "queued" if new else "already queued", "control_id": cid,
            "account": account.name, "command": command, "symbol": symbol}


def _check_symbol(account: AccountHandle, symbol: Any) -> None:
    if symbol is None or symbol == "":
        raise BadControl(f"symbol: missing (this command acts on one of account "
                         f"{account.name}'s symbols)")
    if symbol not in account.symbols:
        raise BadControl(not_traded(account, symbol))


def not_traded(account: AccountHandle, symbol: Any) -> str:
    """The refusal of a symbol the account does not trade, naming the one it is another form
    of ("btc/usdt:usdt", "BTCUSDT": signals/parsing.py near_miss)."""
    hint = did_you_mean(symbol, account.symbols) if isinstance(symbol, str) else ""
    return f"symbol: {str(symbol)[:60]!r} is not traded by account {account.name}{hint}"
