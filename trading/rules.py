"""Frozen parameters the decision core needs: market precision, risk limits, close policy."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, ROUND_HALF_UP, Decimal

from trading.client_ids import check_fits
from trading.order_evidence import SEND_GRACE_S

ZERO_AMOUNT = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketRules:
    amount_step: Decimal
    price_tick: Decimal
    min_amount: Decimal
    min_cost: Decimal
    max_amount: Decimal | None = None
    """The largest amount one order may carry (None: the venue tells none)."""
    taker_fee: Decimal = Decimal(0)
    """The market's fee rates, as the venue's market list states them."""
    maker_fee: Decimal = Decimal(0)

    def entry_margin(self, amount: Decimal, price: Decimal, leverage: int, *,
                     maker: bool = False) -> Decimal:
        """What an order opening `amount` at `price` takes of the free margin: its initial
        margin and its fee, taker (a market order) or `maker` (a resting limit): the venues
        and the paper exchange refuse an order whose margin fits but whose fee does not."""
        notional = amount * price
        return notional / leverage + notional * (self.maker_fee if maker else self.taker_fee)

    def amount_down(self, amount: Decimal) -> Decimal:
        steps = (amount / self.amount_step).to_integral_value(rounding=ROUND_DOWN)
        if not steps:
            return Decimal(0)
        value = (steps * self.amount_step).normalize()
        # normalize() writes 680 as 6.8E+2, which reached the journal, the logs and the
        # notices ("amount": "1E+3", seen in a soak): whole amounts keep their digits
        exponent = value.as_tuple().exponent
        return value.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else value

    def price_round(self, price: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
        ticks = (price / self.price_tick).to_integral_value(rounding=rounding)
        return ticks * self.price_tick

    def tradable(self, amount: Decimal, price: Decimal) -> bool:
        """At least the minimum amount and the minimum order value."""
        return (ZERO_AMOUNT < amount and amount >= self.min_amount
                and amount * price >= self.min_cost)

    def below_minimum(self, amount: Decimal, price: Decimal, size: Decimal | None = None) -> str:
        """Which minimum an amount `tradable` refuses is short of, with the figures: the order
        value too when that is short, and, when the `size` (USDT) asked for was not, that the
        amount's rounding down to the step took it below ("size 100 USDT is below the market
        minimum order value of 100.0 USDT (0.002 at 49991.90)" contradicted itself)."""
        if amount <= 0 or amount < self.min_amount:
            return f"below the market minimum amount of {self.min_amount} ({amount} at {price})"
        rounded = (" once the amount is rounded down to the market's step of "
                   f"{self.amount_step}" if size is not None and size >= self.min_cost else "")
        return (f"below the market minimum order value of {self.min_cost} USDT ({amount} at "
                f"{price} = {amount * price} USDT{rounded})")

    def above_max(self, amount: Decimal) -> bool:
        """More than the market's maximum order amount: the venue refuses such an order."""
        return self.max_amount is not None and amount > self.max_amount

    def capped(self, amount: Decimal) -> Decimal:
        """At most the market's maximum order amount: what one reducing order of a position
        larger than the maximum carries (its stop: part of it covered; its close: a slice)."""
        return amount if self.max_amount is None else min(amount, self.max_amount)

    def size_refusal(self, size: Decimal, amount: Decimal, price: Decimal) -> str | None:
        """Why an entry of `size` USDT (`amount` at `price`) is not sent, or None: one the
        venue would refuse is refused here, journaled, never sent to be refused again and
        again."""
        if not self.tradable(amount, price):
            return f"size {size} USDT is {self.below_minimum(amount, price, size)}"
        if self.above_max(amount):
            return f"size {size} USDT ({amount}) is above the market maximum of {self.max_amount}"
        return None

    def price_floor(self, price: Decimal) -> Decimal:
        return self.price_round(price, ROUND_FLOOR)

    def price_ceil(self, price: Decimal) -> Decimal:
        return self.price_round(price, ROUND_CEILING)


def doubling_wait(first: float, doublings: int, longest: float) -> float:
    """`first` doubled `doublings` times (none when <= 0), at most `longest`: the one shape of
    the retry waits that back off (refused entries and stops, both styles). The doublings stop
    at 32, so no count, however large, overflows the float."""
    return min(first * 2 ** min(max(doublings, 0), 32), longest)


def stop_wait(refusals: int, lost: bool, backoff: Callable[[int], float]) -> float:
    """The wait before the next stop after one more failed, `refusals` in a row before it:
    none for the first of a row that never reached the venue (`OrderFailed.lost`), else the
    refusals' `backoff`. Nothing was wrong with a lost stop: waiting left the position bare
    for `stop_retry_s` (2 s after a restart whose stop was sent as the bot was killed).

    Sent again at once, it cannot double the stop: the lost one is absent as far as the venue
    can tell (its lookup by client order id found nothing after its send failed or its answer
    never came); the new one carries a new client order id; and had the lost one landed after
    all (a lookup lagging the venue), both are reduce-only, so the second has nothing to close
    once the first triggered, and the older, owned by no live order of ours, is cancelled as
    an orphan by the next reconciliation that finds ours resting (trading/order_evidence.py:
    stops get no send grace). Waiting would not have looked again. A venue that swallows
    stop after stop gets the refusals' backoff from the second on (the same count): no
    loop. Both styles (trading/order_reports.py `_stop_failed`, trading/grid/handlers.py
    `_backed_off`)."""
    return 0.0 if lost and not refusals else backoff(refusals + 1)


def close_backoff(initial: float, attempts: int, longest: float) -> float:
    """The wait before close attempt `attempts + 1`: `initial` doubling from the second, at
    most `longest` (both styles). The doublings stop at 64 (found by review: a grid level
    refused for ~17 h counted ~1,025 failures, and 2 ** 1024 overflowed the float: every actor
    of the style crashed)."""
    return min(initial * (2 ** min(max(attempts - 1, 0), 64)), longest)


def check_grace(send_grace_s: float) -> None:
    """A send grace that is no number of seconds >= 0 is refused when the rules are built."""
    if not send_grace_s >= 0:  # NaN too
        raise ValueError(f"send grace must be >= 0 seconds, got {send_grace_s!r}")


STOP_FAST_RETRIES = 3
"""Refused stops retried at once-`stop_retry_s` pace (a transient refusal is fixed within
seconds; supervision/coverage.py RETRY_ROUNDS fit in the alert's grace) before backing off."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskRules:
    order_size_usdt: Decimal
    stop_loss_pct: Decimal
    trailing_activation_pct: Decimal
    trailing_callback_pct: Decimal
    trailing_step_pct: Decimal
    take_profit_pct: Decimal | None
    cooldown_after_loss_s: float
    max_close_attempts: int
    close_backoff_initial_s: float
    close_backoff_max_s: float
    stop_retry_s: float = 2.0
    stop_retry_max_s: float = 60.0
    """A stop the venue keeps refusing (too far, below the minimum size, reduce-only on a
    position it no longer lists) is retried every `stop_retry_s` for the first
    `STOP_FAST_RETRIES` refusals, then at a doubling wait up to this (`stop_retry`)."""
    entry_retry_s: float = 10.0
    """The wait after an entry that ended without a fill (refused by the venue), doubling while
    they keep failing, up to `entry_retry_max_s`."""
    entry_retry_max_s: float = 300.0
    max_price_age_s: float = 120.0
    """An entry is sized from the symbol's last price only when it was read within this long
    (config `risk.max_price_age_s`): the feed stops with a venue outage, and an external signal
    that came after a long one was sized on the price from before it."""
    adopt_unknown_positions: bool = True
    bot_side_stops: bool = False
    """True only when config chose stop_mode = "bot": the bot closes at the stop price itself."""
    leverage: int = 5
    """`risk.leverage`: the margin an entry needs is its notional over it (live, the bot sets it
    on the venue before a symbol's first entry, actors/leverage.py, so the gate judges right)."""
    amend_stops: bool = False
    """The venue amends a resting stop's trigger in place (Bybit): a stop move amends instead of
    placing a new stop and cancelling the old one (issue 12)."""

    def entry_retry(self, refusals: int) -> float:
        """The wait before the next entry after `refusals` entries in a row ended unfilled."""
        return doubling_wait(self.entry_retry_s, refusals - 1, self.entry_retry_max_s)

    def stop_retry(self, refusals: int) -> float:
        """The wait before the next stop after `refusals` stops in a row were refused. Found
        by review: a lasting refusal was re-sent every 2 s for ever (1,800 refused orders an
        hour per symbol, eating the rate budget other symbols' stops need)."""
        return doubling_wait(self.stop_retry_s, refusals - STOP_FAST_RETRIES,
                             self.stop_retry_longest)

    @property
    def stop_retry_longest(self) -> float:
        """The longest a refused stop's retry waits (a deadline further away is a clock step)."""
        return max(self.stop_retry_s, self.stop_retry_max_s)

    def close_backoff(self, attempts: int) -> float:
        """Delay before close attempt `attempts + 1`: exponential with a ceiling."""
        return close_backoff(self.close_backoff_initial_s, attempts, self.close_backoff_max_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class Rules:
    symbol: str
    account: str
    id_tag: str
    """Short random tag created once per database, so client ids never repeat across a wiped
    database on the same exchange account."""
    market: MarketRules
    risk: RiskRules
    send_grace_s: float = SEND_GRACE_S
    """The venue's send grace (trading/order_evidence.py): how long a not-found keeps a pending
    entry pending. A fact of the exchange port (`ExchangePort.send_grace_s`, runtime/wiring.py):
    60 s over the network (the ccxt gateway), 0 for the in-process paper exchange."""

    def __post_init__(self) -> None:
        check_fits(self.account, self.id_tag, self.symbol)  # refuse now, not at some order
        check_grace(self.send_grace_s)
