"""Which close reasons are stop-outs, for both position styles: the one definition that the
protections' stop-loss guard counts and the hedge grid waits after (trading/grid/handlers.py)."""

from __future__ import annotations

GRID_STOPPED_OUT = ("stop_loss", "stop_loss_bot", "closed_on_exchange")
"""The hedge grid's: its exchange stop filled (``stop_loss``), its own close of a leg whose stop
was crossed (``stop_loss_bot``), a leg found closed on the exchange (``closed_on_exchange``)."""

ONE_WAY_STOPPED_OUT = ("stop_loss", "trailing_stop", "closed_on_exchange")
"""The one-way core's: the exchange stop filled, or the bot closed through a crossed stop
(``stop_loss``); the trailing stop, on the exchange or by the bot (``trailing_stop``); a position
found closed on the exchange (``closed_on_exchange``, e.g. its stop filled while away)."""

STOPPED_OUT = frozenset(GRID_STOPPED_OUT + ONE_WAY_STOPPED_OUT)
"""Every stop-out reason a ``positions.close_reason`` can hold."""
