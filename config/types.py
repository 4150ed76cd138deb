"""Strict field types for TOML-backed settings.

TOML values are already typed, so nothing is coerced from strings: ``"5"`` is not a number and
``1`` is not a boolean. Money and percentages become ``Decimal`` (built from the float's shortest
repr, so ``0.00055`` stays exactly ``Decimal("0.00055")``).
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

# ccxt unified symbol of a linear perpetual swap: BASE/QUOTE:SETTLE with SETTLE == QUOTE.
_SYMBOL_RE = re.compile(r"^([A-Za-z0-9]+)/([A-Za-z0-9]+):([A-Za-z0-9]+)$")
SYMBOL_HINT = (
    'a ccxt linear perpetual "BASE/QUOTE:SETTLE" with SETTLE == QUOTE, e.g. "BTC/USDT:USDT"'
)


def _is_real_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def _number(value: Any) -> Any:
    if not _is_real_number(value):
        raise PydanticCustomError("expected_number", "expected a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("expected_number", "expected a finite number")
    if isinstance(value, Decimal) and not value.is_finite():
        raise PydanticCustomError("expected_number", "expected a finite number")
    return value


def _to_float(value: Any) -> float:
    return float(_number(value))


def _to_decimal(value: Any) -> Decimal:
    value = _number(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("expected_integer", "expected an integer")
    return value


def _to_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise PydanticCustomError("expected_bool", "expected true or false")
    return value


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise PydanticCustomError("expected_string", "expected a string")
    if "\x00" in value:  # the file system refuses it with an error naming no key
        raise PydanticCustomError("nul_character", "must not contain a NUL character")
    return value


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _to_env_name(value: Any) -> str:
    """The name of an environment variable ("" for none). A value that cannot be a name (a
    token or key pasted in place of its variable's name: found by review, a Telegram token
    given as telegram.token_env was printed in the start's error) is refused without quoting
    it (config/messages.py appends no value to this error)."""
    value = _to_str(value)
    if value and not _ENV_NAME.fullmatch(value):  # `$` alone let a final \n through
        raise PydanticCustomError(
            "env_name", "must be the name of an environment variable (letters, digits and _, "
            "not starting with a digit), not the secret itself; the value is not shown")
    return value


def unknown_home(path: str) -> str | None:
    """The `~user` a path starts with when no such user exists (pathlib's expanduser raises a
    RuntimeError naming nothing for it), else None."""
    head = path.split("/", 1)[0]
    if head.startswith("~") and os.path.expanduser(head) == head:
        return head
    return None


NO_HOME = "no such user, so no home folder to expand it to"


def unknown_home_option(options: Iterable[tuple[str, Any]]) -> str | None:
    """The one line for the first (option, path) whose path names `~user` for no such user
    (pathlib raised "Could not determine home directory." wherever it was first used), else
    None. A None path is not given."""
    for option, value in options:
        head = None if value is None else unknown_home(str(value))
        if head is not None:
            return f"{option}: {head}: {NO_HOME}"
    return None


def _to_path(value: Any) -> str:
    value = _to_str(value)
    head = unknown_home(value)
    if head is not None:
        raise PydanticCustomError("unknown_home", "{head}: " + NO_HOME, {"head": head})
    return value


def _to_url(value: Any) -> str:
    value = _to_str(value)
    rest = value.split("://", 1)[1] if "://" in value else ""
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]  # as urlsplit cuts the netloc
    if "@" in authority:  # the URL goes into connection errors and so into log lines
        raise PydanticCustomError(
            "url_userinfo", "must not hold a user name or password: the URL shows in connection "
            "errors and log lines")
    return value


def _to_webhook(value: Any) -> str:
    """Found by review: a webhook URL with `user:password@` was accepted, but urllib takes that
    part for the host name, so every alert POST failed (from the first escalation on). The
    message never quotes the URL (it may hold a key: config/messages.py)."""
    value = _to_str(value)
    authority = re.split(r"[/?#]", value.split("://", 1)[-1], maxsplit=1)[0]
    if "@" in authority:
        raise PydanticCustomError(
            "url_userinfo", "must not hold a user name or password (user:password@): the alert "
            "POST cannot send them and every alert would fail; use a URL whose key is in its "
            "path or query")
    return value


def _to_symbol(value: Any) -> str:
    value = _to_str(value)
    match = _SYMBOL_RE.fullmatch(value)  # not match: its `$` also matches before a final \n
    if match is None or match.group(2) != match.group(3):
        raise PydanticCustomError("bad_symbol", "must be {hint}", {"hint": SYMBOL_HINT})
    base, quote = match.group(1), match.group(2)
    # ccxt writes currencies in upper case (a few bases have a lower-case prefix: kPEPE), and
    # markets are looked up as written: "btc/usdt:usdt" names no market. Refused, not
    # upper-cased here, so the symbol in the config is the one in the logs, the database and
    # the CLI (found by review: it was taken as written).
    if base.islower() or quote != quote.upper():
        cased = f"{base.upper() if base.islower() else base}/{quote.upper()}:{quote.upper()}"
        raise PydanticCustomError(
            "symbol_case", 'must be written as ccxt writes it, in upper case: "{cased}"',
            {"cased": cased})
    return value


def _to_array(value: Any) -> Any:
    if not isinstance(value, (list, tuple)):
        raise PydanticCustomError("expected_array", "expected an array")
    return tuple(value)


def _to_table(value: Any) -> Any:
    if not isinstance(value, dict):
        raise PydanticCustomError("expected_table", "expected a table")
    return value


Float = Annotated[float, BeforeValidator(_to_float)]
Dec = Annotated[Decimal, BeforeValidator(_to_decimal)]
Int = Annotated[int, BeforeValidator(_to_int)]
Bool = Annotated[bool, BeforeValidator(_to_bool)]
Str = Annotated[str, BeforeValidator(_to_str)]
EnvName = Annotated[str, BeforeValidator(_to_env_name)]
"""The name of an environment variable holding a secret, or "" (never the secret itself)."""
PathStr = Annotated[str, BeforeValidator(_to_path)]
"""A file or folder name; `~` and `~user` are expanded, a `~user` with no such user refused."""
Symbol = Annotated[str, BeforeValidator(_to_symbol)]
Url = Annotated[str, BeforeValidator(_to_url)]
"""A URL with no user name or password in it (a string otherwise checked by a pattern)."""
Webhook = Annotated[str, BeforeValidator(_to_webhook)]
"""An alert webhook's URL: no user name or password in it (checked by a pattern too)."""
ARRAY = BeforeValidator(_to_array)
TABLE = BeforeValidator(_to_table)
