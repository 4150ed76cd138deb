"""The account's protection extras of issue 12, built in one place so the composition root
(runtime/account.py) needs one line: the stop watch (actors/stop_watch.py) and the venue's
stop capacity at the entry gate (trading/stop_capacity.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from actors.entry_gate import AccountGate
from actors.stop_watch import Deliver, StopWatch
from exchange.port import ExchangePort
from trading.stop_capacity import stop_capacity_for


def install(settings: Any, exchange: ExchangePort, gate: AccountGate,
            views: Mapping[str, Any], deliver: Deliver, logger: Any,
            alerts: Any = None) -> StopWatch:
    """Register the stop-capacity check with the gate; return the (not yet started) watch,
    which alerts `unprotected` through `alerts` a lost stop no running actor can re-place."""
    limit = stop_capacity_for(str(getattr(exchange, "id", "")))
    if limit is not None:
        gate.add_limit(limit)  # judged on the gate's count under its lock (a wave in one count)
    unprotected = None if alerts is None else (
        lambda symbol, text: alerts.alert(symbol, "unprotected", text))
    return StopWatch(exchange=exchange, views=views, deliver=deliver, logger=logger,
                     unprotected=unprotected,
                     interval_s=settings.supervision.stop_check_interval_s,
                     streamed_interval_s=settings.supervision.stop_check_streamed_interval_s)
