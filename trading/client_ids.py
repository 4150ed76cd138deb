"""The one client order id builder, for both trading styles.

Format: ``<account>-<tag>-<symbol code>-<purpose letter><seq>``.

Unique per account by construction (issue 16 item 9: the old code was the first 5 characters of
the base plus 3 hex digits of a hash, so `ZZTOP2` and `ZZTOP24` could share it):
- `<account>-<tag>-` is fixed for one account and database;
- `symbol_code` is injective (a symbol can be read back from its code, see `symbol_from_code`),
  so two symbols never share a code, and the code contains no `-`;
- `<seq>` is the symbol's persisted order sequence, which only grows; the letter says the
  purpose. The tail after the last `-` is a letter then digits, so the split is unambiguous.
- Ids of the previous format ended in the letter (`...-12e`); ids of this one end in a digit,
  so a new id can never equal one an older version sent on the same account.
An id that would not fit the venues' rule (<= 36 characters of `[A-Za-z0-9_-]`, the
intersection of Bybit's orderLinkId and Binance's newClientOrderId) is refused with a
`ValueError` naming the symbol: never shortened, because shortening is how ids collide.
"""

from __future__ import annotations

import base64
import re

from trading.orders import OrderPurpose

VALID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
"""Binance's rule; Bybit's is stricter (no `.`, `:`, `/`), which `SAFE` below respects."""
SAFE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
MAX_LEN = 36
SEQ_RESERVE = 10**8 - 1
"""The largest sequence `check_fits` proves an account/symbol pair can reach. Eight digits plus
the letter is also the tail of the emergency path's id (runtime/emergency.py: `-z<side><7
digits>`), so a symbol that passes `check_fits` fits there too."""

_ALNUM = re.compile(r"[A-Za-z0-9]+")
_DEFAULT_QUOTE = "USDT"
_ESCAPE = "_"


def symbol_code(symbol: str) -> str:
    """An injective, id-safe code for a unified ccxt symbol.

    - ``BASE/USDT:USDT`` (linear USDT perpetuals, the common case) -> ``BASE``;
    - ``BASE/QUOTE:QUOTE`` -> ``BASE_QUOTE``;
    - ``BASE/QUOTE:SETTLE`` -> ``BASE_QUOTE_SETTLE`` (SETTLE != QUOTE);
    - anything else (spot, dated futures, non-alphanumeric parts) -> ``_`` + base32 of the
      whole symbol (lower-case, no padding).
    The first three forms have only alphanumeric parts and 0, 1 or 2 underscores, the last one
    starts with an underscore, so no two symbols share a code.
    """
    parts = _split(symbol)
    if parts is not None:
        base, quote, settle = parts
        if quote == settle:
            return base if quote == _DEFAULT_QUOTE else f"{base}_{quote}"
        return f"{base}_{quote}_{settle}"
    raw = base64.b32encode(symbol.encode()).decode().rstrip("=").lower()
    return f"{_ESCAPE}{raw}"


def symbol_from_code(code: str) -> str:
    """The inverse of `symbol_code` (the proof of injectivity, used by the tests)."""
    if code.startswith(_ESCAPE):
        raw = code[1:].upper()
        return base64.b32decode(raw + "=" * (-len(raw) % 8)).decode()
    parts = code.split("_")
    if len(parts) == 1:
        return f"{parts[0]}/{_DEFAULT_QUOTE}:{_DEFAULT_QUOTE}"
    if len(parts) == 2:
        return f"{parts[0]}/{parts[1]}:{parts[1]}"
    base, quote, settle = parts
    return f"{base}/{quote}:{settle}"


def _split(symbol: str) -> tuple[str, str, str] | None:
    base, slash, rest = symbol.partition("/")
    quote, colon, settle = rest.partition(":")
    if not (slash and colon) or not all(_ALNUM.fullmatch(p) for p in (base, quote, settle)):
        return None
    return base, quote, settle


def client_order_id(account: str, tag: str, symbol: str, seq: int, purpose: OrderPurpose) -> str:
    """The id of order number `seq` of `symbol` on this account; ValueError if it cannot fit."""
    cid = f"{account}-{tag}-{symbol_code(symbol)}-{purpose.letter}{seq}"
    if not SAFE.match(cid):
        raise ValueError(f"{symbol}: client order id {cid!r} does not fit the exchanges' rule "
                         f"(<= {MAX_LEN} characters of A-Z a-z 0-9 _ -); use a shorter account "
                         "name")
    return cid


def check_fits(account: str, tag: str, symbol: str) -> None:
    """Raise ValueError now (at startup) if this symbol's ids would outgrow the venues' limit
    before its sequence reaches `SEQ_RESERVE`, instead of on some later order."""
    client_order_id(account, tag, symbol, SEQ_RESERVE, OrderPurpose.ENTRY)
