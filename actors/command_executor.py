"""Executes a committed decision's commands through the exchange port.

Every outcome becomes an event for the same actor: acknowledgements, fills, rejections, and
exceptions raised by our own code (a bug in the close path counts as a failed close attempt
instead of looping; incident 2). When a call to place an order raises anything, the order is
first looked up by its client order id: an order that did land is adopted, never sent again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from typing import Any

from actors.leverage import LeverageSetter
from actors.order_results import (
    by_client_id,
    canceled_events,
    events_for,
    look_up,
    tells_fills,
)
from exchange import errors
from exchange.budget import BudgetRefused
from exchange.fence import Fenced, Preempted, preemptible
from exchange.port import ExchangePort
from observability.error_text import describe
from trading.commands import AmendStop, CancelOrder, Command, Escalate, PlaceOrder
from trading.events import (
    Event,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    StopAmended,
    StopAmendFailed,
)
from trading.model import OrderPurpose

EscalationHook = Callable[[str, Escalate], None]
CancelHook = Callable[[bool], None]
"""Told each cancel's outcome: True once the venue answered, False when it failed for a
temporary reason (the actor looks again soon: actors/reconcile_retry.py `cancel_done`)."""


def is_close(cid: str) -> bool:
    """A close the core sent (either style): the last letter of our client order ids names the
    purpose (trading/client_ids.py)."""
    return cid.endswith(OrderPurpose.CLOSE.letter)


def reconcile_after(event: Event) -> str | None:
    """Why the decision loop reconciles once its decisions settle (None: it does not): a close
    refused while the venue lists no position raced with another fill; one the venue refused
    while it lists the position may be held by orders resting on the symbol that nobody of ours
    owns (Binance -4118: a reduce-only limit by hand, a take-profit set by a person, counts
    against every close), which reconciliation cancels (INCIDENTS rule 9, `OrphanCanceled`)
    so the next attempt closes. Found by review: without it the closes were refused attempt
    after attempt and the symbol escalated long before the next periodic reconciliation."""
    if isinstance(event, OrderFilled) and event.position_gone:
        return "close filled short while the exchange lists no position"
    if not isinstance(event, OrderFailed):
        return None
    if event.position_gone:
        return "close raced with another fill"
    if is_close(event.client_order_id) and not (event.lost or event.set_aside):
        return "close refused while the position is listed"
    return None


def position_listed(exchange: ExchangePort, symbol: str, after: str, log: Any,
                    side: str | None = None) -> bool:
    """Whether the exchange still lists a position of `symbol` (`side`: of that side only, a
    hedge-mode leg 'long' / 'short': the other leg's position says nothing of it), read after
    a close (`after` names it for the log) to tell a close that raced with another fill from
    a failed one. The
    read gives way to an order report (exchange/fence.py `preemptible`): at reconciliation
    priority it held the actor up to 30 s in the rate budget, or its retries' backoff, with
    reports behind it (found by review). Set aside or unreadable, the position counts as
    listed: the close is a failed attempt (the report, often the fill that closed it, is
    handled next). A replaced incarnation (`Fenced`) decides nothing more."""
    try:
        with preemptible(prices=False):
            positions = exchange.fetch_positions([symbol])
    except Fenced:
        raise
    except Preempted:
        log.info("position after {} not read: an order report is waiting; a failed attempt",
                 after)
        return True
    except Exception as exc:  # noqa: BLE001 - unknown: counted as a failed attempt
        log.warning("position after {} unreadable: {}", after, describe(exc))
        return True
    return any(p.symbol == symbol and p.contracts > 0 and side in (None, p.side)
               for p in positions)


class CommandExecutor:
    def __init__(self, symbol: str, exchange: ExchangePort, *, on_escalate: EscalationHook,
                 log: Any, lookup_attempts: int = 3,
                 sleep: Callable[[float], None] | None = None,
                 on_cancel: CancelHook | None = None,
                 leverage: LeverageSetter | None = None) -> None:
        """`leverage`: sets the configured leverage before the symbol's first order that can
        grow a position (live and dry-run; None: never set, as in paper and the backtest)."""
        self.symbol = symbol
        self.leverage = leverage
        self.on_cancel = on_cancel or (lambda ok: None)
        self.exchange = exchange
        self.on_escalate = on_escalate
        self.log = log
        self.lookup_attempts = lookup_attempts
        self.sleep = sleep

    def execute(self, command: Command) -> list[Event]:
        match command:
            case PlaceOrder(order=order):
                return self._place(order)
            case CancelOrder(client_order_id=cid, exchange_id=eid, stop=stop):
                return self._cancel(cid, eid, stop)
            case Escalate():
                self.on_escalate(self.symbol, command)
                return []
            case AmendStop():
                return self._amend(command)
        raise TypeError(f"unknown command {command!r}")

    def _amend(self, c: AmendStop) -> list[Event]:
        """Move a resting stop in place through the port's optional `amend_stop` (the ccxt
        gateway where the venue can: Bybit). Any failure is `StopAmendFailed`: the stop rests
        where it was and the core falls back to a new stop, then cancels the old (issue 12)."""
        amend = getattr(self.exchange, "amend_stop", None)
        try:
            if amend is None:
                raise errors.NotSupported("this exchange port cannot amend stops")
            order = amend(self.symbol, c.exchange_id, c.client_order_id, c.side, c.stop_price)
        except Fenced:
            raise  # this incarnation was replaced: it records nothing and sends nothing more
        except Exception as exc:  # noqa: BLE001 - resolved by the core's fallback
            self.log.warning("amend of stop {} failed: {}", c.client_order_id, describe(exc))
            ended = self._ended_stop(c) if isinstance(exc, errors.OrderNotFound) else []
            return ended or [StopAmendFailed(client_order_id=c.client_order_id,
                                             stop_price=c.stop_price, error=describe(exc))]
        price = order.trigger_price if order.trigger_price is not None else c.stop_price
        return [StopAmended(client_order_id=c.client_order_id, stop_price=price)]

    def _ended_stop(self, c: AmendStop) -> list[Event]:
        """An amend refused as not found (Bybit 110001 "order not exists or too late to
        replace"): the stop fired or ended. Looked up, its end is what the core decides on: a
        fill closes the position now. As `StopAmendFailed` ("it rests where it was") the core
        placed a new stop at the moved level and closed at the trigger, both refused (the price
        was through it, nothing left to reduce), a failed close counted, and the fill waited for
        its report (live chaos, Bybit). Empty (the fallback) if the lookup fails or finds it
        resting after all."""
        try:
            found = look_up(self.exchange, self.symbol, c.exchange_id, c.client_order_id,
                            stop=True)
        except Fenced:
            raise
        except Exception as exc:  # noqa: BLE001 - unknown: the core's fallback, as before
            self.log.warning("lookup of {} after its refused amend failed: {}",
                             c.client_order_id, describe(exc))
            return []
        if found.status.is_open and found.filled == 0:
            return []
        return events_for(c.client_order_id, found, pending=False)

    def _place(self, order: Any) -> list[Event]:
        params: dict[str, Any] = {"clientOrderId": order.client_order_id}
        if order.reduce_only:
            params["reduceOnly"] = True
        if order.purpose is OrderPurpose.STOP:
            params["stopLossPrice"] = order.stop_price
        closes = order.reduce_only and order.purpose is not OrderPurpose.STOP
        return self._create(order, lambda: self.exchange.create_order(
            self.symbol, "market", order.side, order.amount, None, params), closes=closes)

    def _create(self, order: Any, send: Callable[[], Any], *, closes: bool = False,
                side: str | None = None) -> list[Event]:
        """Send a create; every outcome becomes events. An order that can grow a position gives
        way, while it waits for rate budget, to an order report in the actor's mailbox (found by
        a soak: a removed stop's report waited 10 s behind a grid decision's level orders, each
        waiting up to its 2 s bound): it was never sent, like the budget's own refusal."""
        cid = order.client_order_id
        try:
            refused = None if order.reduce_only else self._leverage_refusal()
        except Preempted as exc:  # its leverage set was set aside for an order report before
            # it was sent: the entry set aside, as its create would be (found by the cluster
            # failover bench: a WARNING "leverage 2x not set on bybit (Preempted: ...)")
            return self._not_sent(cid, exc)
        if refused is not None:  # nothing was sent: a failed order that never reached the venue
            self.log.warning("create_order {} not sent: {}", cid, refused)
            return [OrderFailed(client_order_id=cid, error=refused, never_reached=True)]
        try:
            with nullcontext() if order.reduce_only else preemptible(prices=False):
                result = send()
            events = events_for(cid, result, pending=True)
            # a close answered ended unfilled (a venue that cancels a reduce-only order with
            # nothing to reduce) raced like one refused with an error: the venue is asked
            return [self._mark_if_position_gone(e, side) for e in events] if closes else events
        except Fenced:
            raise  # this incarnation was replaced: it records nothing and sends nothing more
        except (BudgetRefused, Preempted) as exc:
            return self._not_sent(cid, exc)  # nothing was sent: no lookup
        except Exception as exc:  # noqa: BLE001 - every failure is resolved by lookup, then an event
            self.log.warning("create_order {} failed: {}; looking it up by client id",
                             cid, describe(exc))
            # it may have landed (anything but the venue's refusal): a not-found of an order
            # that grows the position is no proof right after the send (order_evidence.py)
            unsure = not order.reduce_only and not isinstance(exc, errors.PermanentError)
            events = self._resolve(cid, exc, unsure=unsure, stop=order.is_stop)
            return [self._mark_if_position_gone(e, side) for e in events] if closes else events

    def _leverage_refusal(self) -> str | None:
        """Why an order growing the position may not be sent: the symbol's leverage could not
        be set (actors/leverage.py). It waits for budget as the entry would, and gives way to an
        order report the same way (`Preempted` propagates: the entry is set aside, `_not_sent`;
        the next entry asks again)."""
        if self.leverage is None:
            return None
        with preemptible(prices=False):
            return self.leverage.refusal(self.symbol)

    def _not_sent(self, cid: str, exc: Exception) -> list[Event]:
        """Our own rate budget refused the create before anything was sent, or set it aside for
        an order report (an entry or a grid level; protective calls are never refused): a
        failed order that never reached the venue, with no lookup. Found by a soak: each such
        refusal was looked up by client id as an unknown outcome and held the symbol's next
        entry for the 60 s grace of an order that may have landed (1,259 lookups in 8 minutes
        of a Bybit hedge grid). One set aside is the design working, no fault: said at INFO,
        as a reconciliation set aside (a live grid logged 12 such WARNINGs in 3 healthy min)."""
        say = self.log.info if isinstance(exc, Preempted) else self.log.warning
        say("create_order {} not sent: {}", cid, describe(exc))
        return [OrderFailed(client_order_id=cid, error=describe(exc), never_reached=True,
                            lost=True, set_aside=isinstance(exc, Preempted))]

    def _resolve(self, cid: str, exc: BaseException, *, unsure: bool = False,
                 stop: bool = False) -> list[Event]:
        """After a failed create_order: did the order land anyway? When the lookup fails too,
        the outcome is unknown and reconciliation decides; except for a close whose lookup
        failed for a reason that is not temporary (a bug in our code, a permanent refusal: it
        would fail the same way in every reconciliation, and the close would stay pending for
        ever, never counted). That close is a failed attempt (never_reached=False: it may have
        landed), counted, backed off and escalated after max_close_attempts (incident 2); a
        fill it had is found by reconciliation among the exchange's trades and booked there."""
        for _ in range(self.lookup_attempts):
            try:
                found = look_up(self.exchange, self.symbol, None, cid, stop=stop)
            except Fenced:
                raise
            except errors.OrderNotFound:
                if unsure:  # the lookup may lag the send: reconciliation decides (a grace)
                    break
                # the venue's refusal, or lost on the way (a timeout, an answer never read):
                # a lost stop is placed again at once (trading/rules.py `stop_wait`)
                return [OrderFailed(client_order_id=cid, error=describe(exc), never_reached=True,
                                    lost=not isinstance(exc, errors.PermanentError))]
            except errors.TemporaryError:
                continue
            except Exception as lookup_exc:  # noqa: BLE001 - outcome unknown: reconciliation decides
                self.log.error("lookup of {} failed: {}", cid, describe(lookup_exc))
                if is_close(cid):
                    error = f"{describe(exc)}; its lookup failed: {describe(lookup_exc)}"
                    return [OrderFailed(client_order_id=cid, error=error, never_reached=False)]
                break
            return events_for(cid, found, pending=True)
        self.log.warning("outcome of {} unknown; reconciliation will resolve it", cid)
        return []

    def _mark_if_position_gone(self, event: Event, side: str | None = None) -> Event:
        """A rejected close may only mean something else closed the position first
        (`position_listed`; `side`: a hedge-mode leg's, of that side only)."""
        if not isinstance(event, OrderFailed) or position_listed(
                self.exchange, self.symbol, "the failed close", self.log, side=side):
            return event
        return replace(event, position_gone=True)  # its other facts kept (unseen: a row of
        # never-sent closes, lost, set aside); found by review: rebuilt with four of them

    def _cancel(self, cid: str | None, exchange_id: str | None, stop: bool = False) -> list[Event]:
        params = by_client_id(cid, stop) if cid else {}
        try:
            answer = self.exchange.cancel_order(exchange_id, self.symbol, params)
        except Fenced:
            raise
        except errors.OrderNotFound:
            self.on_cancel(True)
            if cid:
                return self._look_up_after_cancel(cid, canceled=False, stop=stop)
            return []
        except Exception as exc:  # noqa: BLE001 - left open: a stop of a closed position never
            # counts as protection (SymbolState.owns); every reconciliation cancels it again,
            # and a temporary failure makes the actor reconcile again soon (an orphan that can
            # open a position waited for the next sweep, up to 300 s: found by review)
            self.log.warning("cancel {} failed: {}", cid or exchange_id, describe(exc))
            if isinstance(exc, errors.TemporaryError):
                self.on_cancel(False)
            return []
        self.on_cancel(True)
        if not cid:
            return []
        # a partly filled order's fill may not be reported yet, and its report finds nothing
        # once the order has left the state: the answer's fill is booked here (it ends the order)
        if tells_fills(answer):
            return canceled_events(cid, answer)
        self.log.warning("cancel of {} answered without its fills ({}); looking it up", cid,
                         type(answer).__name__)
        return self._look_up_after_cancel(cid, canceled=True, stop=stop)

    def _look_up_after_cancel(self, cid: str, *, canceled: bool, stop: bool) -> list[Event]:
        """Find out whether the order filled (then book it) and whether it is gone. `canceled`:
        the venue accepted the cancel, so the order is done whatever a stale record says;
        else there was nothing to cancel."""
        try:
            found = look_up(self.exchange, self.symbol, None, cid, stop=stop)
        except Fenced:
            raise
        except errors.OrderNotFound:  # after a cancel that found nothing too: `unseen`
            return [OrderCanceled(client_order_id=cid, unseen=not canceled)]
        except Exception as exc:  # noqa: BLE001 - the next reconciliation looks it up again
            self.log.warning("lookup of {} after cancel failed: {}", cid, describe(exc))
            return []
        if not canceled:
            return events_for(cid, found, pending=False)
        if tells_fills(found):
            return canceled_events(cid, found)
        self.log.warning("lookup of {} after its cancel told no fills; reconciliation will "
                         "resolve it", cid)
        return []
