"""Start lines the paper exchange gives the user about its store."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from loguru import logger

from observability.log_format import say


def kept_balance_notice(store: str | Path, key: str, asked: Decimal, started: Decimal,
                        wallet: Decimal) -> str:
    """One line, logged and written to stderr, when an existing store is opened with another
    starting balance than it was started with: the store keeps its balance (a real account
    is not refilled by a setting), so the user must not believe they trade `asked`."""
    asked_, started_, wallet_ = (usdt(asked), usdt(started), usdt(wallet))
    line = (f"{store}: this paper account keeps its own balance: {key} {asked_} USDT is not "
            f"applied (the store was started with {started_} USDT; its wallet holds "
            f"{wallet_} USDT); to start over with {asked_} USDT, stop the bot and move {store} "
            "aside (a new store is created at the next start)")
    logger.warning("{}", line)
    say(f"paper: {line}")
    return line


def usdt(value: Decimal) -> str:
    """A USDT amount as written by hand: 9999.22, 10000 (not 9999.22000000, 1E+4)."""
    return format(value.normalize(), "f")
