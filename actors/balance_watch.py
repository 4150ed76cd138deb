"""The account's free margin for its entry gate (trading/gate.py `margin_refusal`).

Found by review: nothing in the bot ever read the balance for the gate, so its free-margin
check never refused anything; a one-way entry the account could not carry was sent, refused by
the venue (InsufficientFunds, Bybit 110007, Binance -2019) and journaled as a refused order.

One thread per account reads the balance once every `interval_s` (the account's reconcile
interval, at least `MIN_INTERVAL_S`: Binance weighs it 5, Bybit counts one request; at the
default 30 s that is 10 weight a minute of Binance's 1,200 share) at polling priority (it
waits for, never delays, a stop, a reconciliation or an entry), and tells the gate. The gate
compares each entry's margin with it, less the margin of the entries it admitted since that
read began, so a wave of signals on many symbols shares one read: no lock is shared between
symbols across I/O, and no symbol waits for a balance read. A read older than `STALE_READS`
intervals (the balance reads keep failing) is unknown, and unknown is never a refusal: the
venue's own refusal still stands behind it (the entry's retry wait, trading/lifecycle.py).

The free margin is the one the symbols' settle coin has (found by review: USDT was read
whatever they settle in, so an account of USDC-settled perpetuals had 0 at the gate and every
entry refused). A balance that does not list that coin is unknown, not 0; symbols settled in
more than one coin share no one free margin: then nothing is read (one line at start).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.entry_gate import AccountGate
from actors.periodic import Periodic
from exchange.budget import Priority, call_priority
from exchange.port import ExchangePort

SETTLE = "USDT"
STALE_READS = 3
"""A free margin read more than this many intervals ago is not used."""
MIN_INTERVAL_S = 10.0
"""At most one read in this long, however short the reconcile interval (at 1 s it was 300
weight a minute on Binance, and the all-symbol sweep, needing the rest, fell behind)."""


def settle_of(symbol: str) -> str:
    """The coin a perpetual settles in, from its unified symbol (BASE/QUOTE:SETTLE)."""
    return symbol.partition(":")[2] or SETTLE


def settle_coin(symbols: list[str]) -> str | None:
    """The coin every symbol settles in; None when they settle in more than one."""
    coins = {settle_of(s) for s in symbols}
    return coins.pop() if len(coins) == 1 else None


class BalanceWatch:
    def __init__(self, *, exchange: ExchangePort, gate: AccountGate, symbols: list[str],
                 interval_s: float, logger: Any) -> None:
        self.exchange = exchange
        self.gate = gate
        self.reads = 0
        self.settle = settle_coin(symbols)
        self._log = logger
        interval_s = max(interval_s, MIN_INTERVAL_S)
        gate.margin_max_age_s = STALE_READS * interval_s
        self._loop = Periodic(name="balance-watch", work=self.read_once,
                              pace=lambda: interval_s, look_s=interval_s, logger=logger,
                              what="balance read for the entry gate's free margin")

    def start(self) -> None:
        if self.settle is None:
            self._log.info("entry gate: the symbols settle in more than one coin; the free "
                           "margin is not checked before entries (the venue's refusal stands)")
            return
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def read_once(self) -> Decimal | None:
        """One balance read, told to the gate; raises what the read raised (logged by the
        loop in one line; the gate keeps the last value until it is stale)."""
        if self.settle is None:
            return None
        started = self.gate.margin_read_started()
        with call_priority(Priority.POLLING):  # never before a stop, a reconciliation, an entry
            funds = self.exchange.fetch_balance().listed(self.settle)
        free = None if funds is None else funds.free
        self.gate.note_free_margin(free, started)
        self.reads += 1
        return free
