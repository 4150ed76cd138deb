"""The steps of one emergency close run (runtime/emergency.py `EmergencyCloser`, a mixin split
out of it to keep it readable): read the market's maximum order amount, cancel the symbol's
orders but its reduce-only stops, send each position's reduce-only close, journaled before
each order (write-ahead), each exchange step tried again on a temporary error."""

from __future__ import annotations

import functools
import secrets
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from cluster.lease import LeaseLost
from exchange.errors import OrderNotFound, PermanentError, TemporaryError
from exchange.fence import Fenced, check_fence
from exchange.port import ExchangePort
from exchange.records import VenuePosition
from observability.error_text import describe
from storage.repository import Repository
from trading.client_ids import symbol_code

RETRY_WAITS_S = (2.0, 4.0)
"""Waits before the retries of a step of the close (read positions, read orders, cancel) that
failed with a temporary error (network, timeout, venue down, rate limit): three tries in all,
on top of the gateway's own retries of each call."""


class CancelFailed(Exception):
    """An order that could open a position (not reduce-only) could not be cancelled; or a
    reduce-only one left in place (its cancel failed) and the close then refused (Binance counts
    a leg's resting closing orders against a new close, -4118): the close stays owed."""


class JournalFailed(Exception):
    """A close order could not be journaled (a commit timeout, a locked or lost database): it
    was not sent (write-ahead), so the close stays owed and runs again like a temporary failure
    (found by review: it counted as permanent, the owed marker was cleared and nobody closed the
    escalated position)."""


class CutShort(Exception):
    """The bot stops while a step of the close waits to be tried again: the run ends there and
    the close stays owed (the next start runs it, reading the positions first)."""


class CloseSteps:
    """The exchange steps of `EmergencyCloser` (its attributes are the closer's)."""

    exchange: ExchangePort
    repo: Repository
    prefix: str
    _stopping: threading.Event
    _sleep: Callable[[float], object]

    def _close(self, symbol: str, pos: VenuePosition, reason: str, corr: str, log: Any,
               most: Decimal | None, sent: list[str]) -> None:
        """The position's close: one order, or slices of `most` (the market's maximum order
        amount) one after the other, each journaled before it is sent (its client id added to
        `sent` once the venue took it); a slice that fails stops the rest (the run reports it
        once)."""
        left = pos.contracts
        while left > 0:
            amount = left if most is None else min(left, most)
            sent.append(self._send(symbol, pos, amount, reason, corr, log))
            left -= amount

    def _send(self, symbol: str, pos: VenuePosition, amount: Decimal, reason: str, corr: str,
              log: Any) -> str:
        side = "sell" if pos.side == "long" else "buy"
        # ends in "x" like the client ids of the cores' emergency purpose (trading/client_ids.py);
        # random, not the clock's milliseconds (those repeat every 2.8 h and nothing keeps them).
        # `z<side><6 hex digits>x` is as long as the longest order id `check_fits` admits (8
        # digits and the letter), so it fits the venues' 36 characters wherever the symbol's
        # ids do; 16.7 million stamps (more than the 7 decimal digits it had before)
        cid = f"{self.prefix}{symbol_code(symbol)}-z{pos.side[0]}{secrets.token_hex(3)}x"
        params: dict[str, Any] = {"clientOrderId": cid, "reduceOnly": True}
        if pos.hedged:
            params["positionIdx"] = pos.position_side.idx
        try:
            self.repo.record(
                symbol,
                "EmergencyCloseRequested",
                {"order": cid, "reason": reason, "side": pos.side, "contracts": str(amount)},
                correlation_id=corr,
            )
        except (Fenced, LeaseLost):
            raise
        except Exception as exc:  # noqa: BLE001 - not sent unjournaled; owed, run again
            raise JournalFailed(f"close order {cid} not journaled, so not sent: "
                                f"{describe(exc)}") from exc
        self.exchange.create_order(symbol, "market", side, amount, None, params)
        log.error("emergency close sent: {} {} ({})", side, amount, cid)
        return cid

    def _retried(self, what: str, call: Callable[[], Any], log: Any) -> Any:
        """`call`, tried again after each of RETRY_WAITS_S while it fails with a temporary
        error (found by review: one timeout or 5xx ended the run, the position stayed open).
        The bot stopping before or during a wait ends the run there (`CutShort`)."""
        for wait in RETRY_WAITS_S:
            try:
                return call()
            except TemporaryError as exc:
                log.warning("emergency close: {} failed ({}), retried in {:g}s", what,
                            describe(exc), wait)
            if not self._stopping.is_set():
                self._sleep(wait)
            if self._stopping.is_set():
                raise CutShort(what)
            check_fence()  # a node that lost the account meanwhile sends nothing more
        return call()

    def _close_all(self, symbol: str, positions: list[VenuePosition], reason: str, corr: str,
                   log: Any, sent: list[str]) -> None:
        """The symbol's other orders cancelled, then each position closed. A close the venue
        refuses while a reduce-only order whose cancel failed still rests is owed, not final
        (found by review: Binance refused it, -4118, for the take-profit left in place; the
        close was no longer owed and nobody closed the position)."""
        left = self._cancel_others(symbol, log)
        most = self._most(symbol, log)
        for pos in positions:  # one in one-way mode; one per leg in hedge mode
            try:
                self._close(symbol, pos, reason, corr, log, most, sent)
            except PermanentError as exc:
                if not left:
                    raise
                raise CancelFailed(
                    f"close refused while reduce-only order(s) {', '.join(left)} could not be "
                    f"cancelled: {describe(exc)}; still owed, cancelled first when run again"
                ) from exc

    def _cancel_others(self, symbol: str, log: Any) -> list[str]:
        """Cancel the symbol's open orders except its reduce-only stops (the stop keeps
        protecting if the close fails too; a conditional order that is not reduce-only, a
        buy-stop entry placed by hand, is no protection: kept, it fired once the close had
        flattened the symbol and opened a position nobody manages, found by review). One
        still not cancelled after its retries is left in place when it is reduce-only (a
        take-profit: it cannot open a position) and the close goes on; any other (an entry, a
        grid level, a conditional entry) could open a new position once the close has
        flattened the symbol, so the run stops there (`CancelFailed`) and the close stays
        owed. A cancel the venue refuses (not a temporary error) is treated the same way.
        Returns the ids of the reduce-only orders left in place."""
        left: list[str] = []
        orders = self._retried("reading the open orders",
                               lambda: self.exchange.fetch_open_orders(symbol), log)
        for o in orders:
            if o.is_stop and o.reduce_only:
                continue  # keep the protective stop (a conditional entry is none: it goes)
            cancel = functools.partial(self.exchange.cancel_order, o.id, symbol,
                                       {"clientOrderId": o.client_order_id})
            try:
                self._retried(f"cancel of order {o.id}", cancel, log)
            except OrderNotFound:  # it ended since it was listed (found by review: this
                # race ended the run, the last-resort close was never sent)
                log.warning("emergency close: order {} was gone before its cancel", o.id)
            except (Fenced, LeaseLost, CutShort):
                raise
            except Exception as exc:  # noqa: BLE001 - temporary after its retries, or refused
                # (found by review: a cancel the venue refused, an error that is not temporary,
                # ended the run as permanent: the close was no longer owed, nobody closed it)
                if not o.reduce_only:
                    raise CancelFailed(
                        f"order {o.id} ({o.side} {o.type}, not reduce-only) could not be "
                        f"cancelled: {describe(exc)}; not closed while it could open a new "
                        "position") from exc
                log.warning("emergency close: reduce-only order {} not cancelled ({}), left "
                            "in place", o.id, describe(exc))
                left.append(str(o.id or o.client_order_id))
        return left

    def _most(self, symbol: str, log: Any) -> Decimal | None:
        """The market's maximum order amount (None: the venue tells none, or its market cannot
        be read: then the whole position goes in one order, as it would without a maximum)."""
        try:  # tried again on a temporary error: one order above the maximum is refused
            most = self._retried("reading the market",
                                 lambda: self.exchange.market(symbol), log).max_amount
        except (Fenced, LeaseLost, CutShort):
            raise
        except Exception as exc:  # noqa: BLE001 - the close matters more than its slicing
            log.warning("emergency close: market {} not read ({}), closing in one order",
                        symbol, describe(exc))
            return None
        return most if most is not None and most > 0 else None
