"""The one client order id builder, for both trading styles.

Format: ``<account>-<tag>-<symbol code>-<seq><purpose letter>`` (the layout of before, so
tests and tools that read the purpose from the last letter keep working).

Unique per account by construction (issue 16 item 9: the old code was the first 5 characters of
the base plus 3 hex digits of a hash, so `ZZTOP2` and `ZZTOP24` could share it):
- `<account>-<tag>-` is fixed for one account and database;
- `symbol_code` is injective (a symbol can be read back from its code, see `symbol_from_code`),
  so two symbols never share a code, and the code contains no `-`;
- `<seq>` is the symbol's persisted order sequence, which only grows; the letter says the
  purpose. Neither the code nor the tail holds a `-`, so the split is unambiguous.
- No code equals a code of the previous version (up to 5 alphanumerics + 3 lower-case hex
  digits, `BTC1f2`): a bare base that looks like one is written `BASE_USDT` instead. So a new
  id never equals one an older version sent on the same account.
An id that would not fit the venues' rule (<= 36 characters of `[A-Za-z0-9_-]`, the
intersection of Bybit's orderLinkId and Binance's newClientOrderId) is refused with a
`ValueError` naming the symbol: never shortened, because shortening is how ids collide.

Cluster nodes (cluster/) add the account lease's epoch to the tag: ``<account>-<tag>-e<epoch>-
<symbol code>-<seq><letter>`` (`epoch_tag`). The prefix ``<account>-<tag>-`` stays the same for
every epoch, so fills and orders of older epochs are still recognised as the account's own; two
nodes that ever acted on the account under different epochs can never produce the same id.
Ids without an epoch (a single bot, or older versions) still parse, as epoch 0.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from trading.orders import OrderPurpose

VALID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
"""Binance's rule; Bybit's is stricter (no `.`, `:`, `/`), which `SAFE` below respects."""
SAFE = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
MAX_LEN = 36
SEQ_RESERVE = 10**8 - 1
"""The largest sequence `check_fits` proves an account/symbol pair can reach. Eight digits plus
the letter is also the length of the emergency path's id tail (runtime/emergency.py:
`-z<side><6 hex digits>x`), so a symbol that passes `check_fits` fits there too."""

_ALNUM = re.compile(r"[A-Za-z0-9]+")
_OLD_CODE = re.compile(r"[A-Za-z0-9]{0,5}[0-9a-f]{3}")
"""What the previous version's symbol codes looked like (base prefix + 3 hex of a hash)."""
_DEFAULT_QUOTE = "USDT"
_ESCAPE = "_"


@functools.lru_cache(maxsize=4096)  # pure; every new order asks (~45 us profiled to build)
def symbol_code(symbol: str) -> str:
    """An injective, id-safe code for a unified ccxt symbol.

    Structured forms, for symbols whose parts are alphanumeric (told apart by how many `_`
    they hold):
    - ``BASE/USDT:USDT`` (linear USDT perpetuals, the common case) -> ``BASE``, or
      ``BASE_USDT`` when ``BASE`` alone looks like an old code (e.g. ``1000``);
    - ``BASE/QUOTE:QUOTE`` -> ``BASE_QUOTE``;
    - ``BASE/QUOTE:SETTLE`` -> ``BASE_QUOTE_SETTLE`` (SETTLE != QUOTE);
    - ``BASE/QUOTE:SETTLE-EXPIRY`` (dated futures) -> ``BASE_QUOTE_SETTLE_EXPIRY``;
    anything else (spot, options, other characters) -> ``_`` + the symbol with every character
    but A-Z a-z 0-9 written as `_` and two hex digits per UTF-8 byte. Only that form starts
    with `_`, so no two symbols share a code (`symbol_from_code` reads every code back).
    """
    parts = _split(symbol)
    if parts is None:
        return _ESCAPE + "".join(ch if _ALNUM.fullmatch(ch) else _hex(ch) for ch in symbol)
    base, quote, settle, expiry = parts
    if expiry:
        return f"{base}_{quote}_{settle}_{expiry}"
    if quote == settle:
        short = quote == _DEFAULT_QUOTE and not _OLD_CODE.fullmatch(base)
        return base if short else f"{base}_{quote}"
    return f"{base}_{quote}_{settle}"


def symbol_from_code(code: str) -> str:
    """The inverse of `symbol_code` (the proof of injectivity, used by the tests)."""
    if code.startswith(_ESCAPE):
        raw = re.sub(r"_([0-9a-f]{2})", lambda m: f"%{m.group(1)}", code[1:])
        return bytes(_unquote(raw)).decode()
    parts = code.split("_")
    if len(parts) == 1:
        return f"{parts[0]}/{_DEFAULT_QUOTE}:{_DEFAULT_QUOTE}"
    if len(parts) == 2:
        return f"{parts[0]}/{parts[1]}:{parts[1]}"
    if len(parts) == 3:
        return f"{parts[0]}/{parts[1]}:{parts[2]}"
    base, quote, settle, expiry = parts
    return f"{base}/{quote}:{settle}-{expiry}"


def _hex(ch: str) -> str:
    return "".join(f"_{byte:02x}" for byte in ch.encode())


def _unquote(raw: str) -> bytearray:
    out, i = bytearray(), 0
    while i < len(raw):
        if raw[i] == "%":
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.extend(raw[i].encode())
            i += 1
    return out


def _split(symbol: str) -> tuple[str, str, str, str] | None:
    base, slash, rest = symbol.partition("/")
    quote, colon, rest = rest.partition(":")
    settle, dash, expiry = rest.partition("-")
    parts = (base, quote, settle) + ((expiry,) if dash else ())
    if not (slash and colon) or not all(_ALNUM.fullmatch(p) for p in parts):
        return None
    return base, quote, settle, expiry


def client_order_id(account: str, tag: str, symbol: str, seq: int, purpose: OrderPurpose) -> str:
    """The id of order number `seq` of `symbol` on this account; ValueError if it cannot fit."""
    cid = f"{account}-{tag}-{symbol_code(symbol)}-{seq}{purpose.letter}"
    if not SAFE.fullmatch(cid):
        raise ValueError(f"{symbol}: client order id {cid!r} does not fit the exchanges' rule "
                         f"(<= {MAX_LEN} characters of A-Z a-z 0-9 _ -); use a shorter account "
                         "name")
    return cid


EMERGENCY_TAIL = re.compile(r"-z[ls][0-9a-f]{6}x\Z")
"""The tail of the supervisor's emergency close's client order id (runtime/emergency.py
`_send`: `-z<side><6 hex digits>x`)."""


def is_emergency(cid: str | None) -> bool:
    """Whether a client order id is one the emergency close sent (its fill closed the position:
    booked as "emergency_close", not as a stop-out)."""
    return cid is not None and EMERGENCY_TAIL.search(cid) is not None


def placement_key(cid: str) -> tuple[int, str]:
    """Sort key of one symbol's ids in the order they were placed: the sequence number read as
    a number (`-10s` after `-9s`, which their text sorts the other way), then the id. An id of
    another form (hand-made, the emergency path's) sorts first, by its text."""
    tail = cid.rsplit("-", 1)[-1]
    seq = int(tail[:-1]) if len(tail) >= 2 and tail[:-1].isdigit() else -1
    return seq, cid


def check_fits(account: str, tag: str, symbol: str) -> None:
    """Raise ValueError now (at startup) if this symbol's ids would outgrow the venues' limit
    before its sequence reaches `SEQ_RESERVE`, instead of on some later order."""
    try:
        client_order_id(account, tag, symbol, SEQ_RESERVE, OrderPurpose.ENTRY)
    except ValueError:
        code = symbol_code(symbol)
        raise ValueError(
            f"{symbol}: its client order ids ({account}-{tag}-{code}-<seq><letter>) would be "
            f"longer than {MAX_LEN} characters; they are never shortened (that is how ids "
            f"collide): use a shorter account name than {account!r}") from None


EPOCH_RESERVE = 10**4 - 1
"""The largest lease epoch a cluster node proves room for at startup (a larger one is refused
when the account starts under it, naming the symbol, like any id that does not fit)."""
_EPOCH = re.compile(r"e([0-9]+)")
_TAG_ROOM = "ffff"
"""As long as any database's id tag (2 random bytes in hex, storage/database.py)."""


def check_epoch_fits(account: str, symbols: list[str], epoch: int) -> None:
    """Raise ValueError (one line naming the account, the epoch and a symbol) when the account's
    ids under lease `epoch` would not fit the venues' rule: an epoch past `EPOCH_RESERVE`
    (each acquisition takes a new one, so days of failing starts or hand-overs get there)
    adds a digit the node's startup check did not prove room for."""
    for symbol in symbols:
        try:
            check_fits(account, epoch_tag(_TAG_ROOM, epoch), symbol)
        except ValueError:
            raise ValueError(
                f"account {account}: lease epoch {epoch} is past the {EPOCH_RESERVE} its client "
                f"order ids were checked for, and {symbol}'s would no longer fit {MAX_LEN} "
                "characters; not started (a shorter account name leaves room)") from None


def epoch_tag(tag: str, epoch: int) -> str:
    """The id tag a node uses while it holds the account's lease at `epoch` (0: no cluster)."""
    if epoch < 0:
        raise ValueError(f"lease epoch must be >= 0 (got {epoch})")
    return f"{tag}-e{epoch}" if epoch else tag


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedId:
    """A client order id read back into its parts (`parse_client_order_id`)."""

    epoch: int
    """The lease epoch it was sent under; 0 for ids without one."""
    symbol: str
    """The unified symbol (from its code)."""
    seq: int
    """The symbol's order sequence number."""
    letter: str
    """The purpose letter (see `OrderPurpose.letter`)."""


def parse_client_order_id(cid: str, prefix: str) -> ParsedId | None:
    """Read one of the account's ids (`prefix` = ``<account>-<tag>-``); None when `cid` is not
    one (another account's, or hand-made). Works for ids with and without an epoch."""
    if not cid.startswith(prefix):
        return None
    parts = cid[len(prefix):].split("-")
    epoch = 0
    if len(parts) == 3:
        match = _EPOCH.fullmatch(parts[0])
        if match is None:
            return None
        epoch, parts = int(match.group(1)), parts[1:]
    if len(parts) != 2 or len(parts[1]) < 2 or not parts[1][:-1].isdigit():
        return None
    try:
        symbol = symbol_from_code(parts[0])
    except (ValueError, UnicodeDecodeError):
        return None
    return ParsedId(epoch=epoch, symbol=symbol, seq=int(parts[1][:-1]), letter=parts[1][-1])
