"""Turn a JSON signal into a `SignalRequest`, or raise `Rejected` naming what is wrong.

Accepted shape: {"id", "symbol", "side": "long"|"short"|"exit", "size_usdt"?, "stop"?,
"take_profit"?, "expires_at"? (epoch seconds), "account"? (signals/accounts.py)}. Any other key
is refused, naming it: a misspelled ``size_usd`` must not silently become the default size.
Numbers may be JSON numbers or numeric strings; NaN and Infinity are refused.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from decimal import Decimal, InvalidOperation
from typing import Any

from signals.model import Rejected, SignalRequest
from trading.model import Side

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@/\-]{0,127}")
"""Matched with ``fullmatch`` (``$`` would let a trailing newline through into log lines)."""
KEYS = ("id", "symbol", "side", "size_usdt", "stop", "take_profit", "expires_at", "account")
MAX_EPOCH_S = Decimal(10) ** 11
"""An expires_at above this is almost surely milliseconds, not seconds."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def decode(raw: bytes | str) -> Any:
    """JSON text to Python values, decimals kept exact."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise Rejected(f"malformed JSON: {exc}", 400) from None
    except RecursionError:
        # json's C decoder recurses per nesting level: 30k levels of [[[... would otherwise
        # escape as a RecursionError and close the connection without an answer or a record.
        raise Rejected("malformed JSON: nested too deeply", 400) from None


def signal_id_of(obj: Any) -> str:
    if not isinstance(obj, dict):
        raise Rejected("a signal must be a JSON object", 400)
    sid = obj.get("id")
    if not isinstance(sid, str) or not ID_PATTERN.fullmatch(sid):
        raise Rejected("id: must be a string of 1..128 characters (letters, digits, ._:@/-)", 400)
    return sid


def symbol_of(obj: dict[str, Any]) -> str:
    symbol = obj.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise Rejected("symbol: required, a string such as \"BTC/USDT:USDT\"", 400)
    return symbol.strip()


def unknown_symbol(symbol: str, symbols: Collection[str]) -> str:
    """Why `symbol` is refused, naming the accepted form: the configured symbol it is a near
    miss of (another case, no separators, no settle suffix: "btc/usdt:usdt", "BTCUSDT",
    "BTC/USDT") or else the configured ones (the first few). Found by review: "unknown symbol
    'btc/usdt:usdt' (not in symbols.list)" left the sender guessing the form."""
    shown = repr(symbol[:64])
    near = near_miss(symbol, symbols)
    if near:
        return f'unknown symbol {shown} (not in symbols.list; did you mean "{near}"?)'
    listed = sorted(symbols)
    more = f" and {len(listed) - SHOWN} more" if len(listed) > SHOWN else ""
    return (f"unknown symbol {shown} (not in symbols.list: "
            f"{', '.join(listed[:SHOWN]) or 'none'}{more})")


SHOWN = 5
"""Symbols an unknown one's refusal lists (a list may hold thousands)."""


def near_miss(symbol: str, symbols: Collection[str]) -> str | None:
    """The configured symbol `symbol` is another form of, or None."""
    wanted = _squashed(symbol)
    near = sorted(s for s in symbols if wanted in (_squashed(s), _squashed(s.split(":")[0])))
    return near[0] if near else None


def did_you_mean(symbol: str, symbols: Collection[str]) -> str:
    """` (did you mean "BTC/USDT:USDT"?)` when `symbol` is another form of a configured one
    (`near_miss`), else "": the hint every refusal of an untraded symbol appends."""
    near = near_miss(symbol, symbols)
    return f' (did you mean "{near}"?)' if near else ""


def _squashed(symbol: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", symbol.upper())


def _side(obj: dict[str, Any]) -> Side | None:
    side = obj.get("side")
    if not isinstance(side, str) or side.strip().lower() not in ("long", "short", "exit"):
        got = "nothing" if side is None else repr(side[:32] if isinstance(side, str) else side)[:40]
        raise Rejected(f'side: must be "long", "short" or "exit" (got {got})', 400)
    text = side.strip().lower()
    return None if text == "exit" else Side(text)


def _positive(obj: dict[str, Any], key: str) -> Decimal | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str)):
        raise Rejected(f"{key}: must be a number", 400)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise Rejected(f"{key}: must be a number (got {str(value)[:40]!r})", 400) from None
    if not number.is_finite() or number <= 0:
        raise Rejected(f"{key}: must be a finite number > 0 (got {str(value)[:40]})", 400)
    return number


def _check_levels(side: Side | None, stop: Decimal | None, tp: Decimal | None) -> None:
    if side is None and (stop is not None or tp is not None):
        raise Rejected("stop/take_profit: only allowed on long or short signals", 400)
    if stop is None or tp is None:
        return
    if side is Side.LONG and not stop < tp:
        raise Rejected(f"stop ({stop}) must be below take_profit ({tp}) for a long", 400)
    if side is Side.SHORT and not stop > tp:
        raise Rejected(f"stop ({stop}) must be above take_profit ({tp}) for a short", 400)


def parse(obj: Any) -> SignalRequest:
    """Validate a decoded JSON value (shape and field types only; no symbol list, no clock)."""
    sid = signal_id_of(obj)
    unknown = [key for key in obj if key not in KEYS]
    if unknown:
        raise Rejected(
            f"unknown key {str(unknown[0])[:32]!r} (accepted: {', '.join(KEYS)})", 400
        )
    symbol = symbol_of(obj)
    side = _side(obj)
    stop, tp = _positive(obj, "stop"), _positive(obj, "take_profit")
    _check_levels(side, stop, tp)
    expires_at = _positive(obj, "expires_at")
    if expires_at is not None and expires_at > MAX_EPOCH_S:
        raise Rejected("expires_at: must be epoch seconds (this looks like milliseconds)", 400)
    return SignalRequest(signal_id=sid, symbol=symbol, side=side,
                         size_usdt=_positive(obj, "size_usdt"), stop=stop, take_profit=tp,
                         expires_at=expires_at)
