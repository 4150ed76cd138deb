"""Which file a log line goes to: file-name-safe names for symbols and accounts.

``bot.log`` for the process, ``<safe symbol>.log`` for a symbol, ``<account>/...`` for an
account's lines; distinct symbols and accounts always get distinct files. Split out of
observability/log_streams.py (which writes the files and re-exports these names).
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

MAIN_LOG = "bot.log"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_PLAIN = re.compile(r"[A-Za-z0-9.-]+(/[A-Za-z0-9.-]+(:[A-Za-z0-9.-]+)?)?")
_ACCOUNT = re.compile(r"[a-z0-9_]+")


def safe_name(symbol: str) -> str:
    """File-name-safe form of a symbol, distinct for distinct symbols: ``BTC/USDT:USDT`` ->
    ``BTC_USDT_USDT``. Only names of ``[A-Za-z0-9.-]`` and ccxt symbols of those (``BASE/QUOTE``,
    ``BASE/QUOTE:SETTLE``) keep their plain form: it reads back to one symbol. Any other gets
    ``__`` and 8 hex digits of its sha256 (``币安人生/USDT:USDT`` -> ``_____USDT_USDT__<hash>``); a
    plain form never holds ``__``."""
    symbol = str(symbol)
    if not _PLAIN.fullmatch(symbol):
        return _hashed(symbol)
    name = _UNSAFE.sub("_", symbol)
    if name.strip(".") == "" or name.lower() == MAIN_LOG[:-4]:
        name = "_" + name  # never ".", ".." or a clash with bot.log
    return name


def _hashed(name: str) -> str:
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{_UNSAFE.sub('_', name)}__{digest}"


def _account_dir(account: str) -> str:
    """An account's folder: the config's account names (a-z, 0-9, _) as they are, but ``bot``
    (``_bot``, as before); ``_bot`` and names the config refuses hashed as in ``safe_name``."""
    if account == MAIN_LOG[:-4]:
        return "_" + account
    return account if _ACCOUNT.fullmatch(account) and account != "_bot" else _hashed(account)


def symbol_log_path(logs_dir: Path, symbol: str | None, account: str | None = None) -> Path:
    """``logs/<symbol>.log``; with an account ``logs/<account>/<symbol>.log`` (``symbol`` None:
    that account's lines that name no symbol, ``logs/<account>/bot.log``)."""
    if account is None:
        return Path(logs_dir) / f"{safe_name(str(symbol))}.log"
    name = MAIN_LOG if symbol is None else f"{safe_name(symbol)}.log"
    return Path(logs_dir) / _account_dir(account) / name
