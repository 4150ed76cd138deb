"""Markets loaded once and kept on disk.

File layout (JSON): {"exchange": "<id[/sandbox|/demo]>", "saved_at_ms": int, "markets": {...}}
where "markets" is ccxt's unified markets dict as returned by `load_markets()` (fed back into
every ccxt instance with `set_markets`). Written atomically: temp file in the same directory,
fsync, rename, fsync of the directory.

`load_or_fetch` policy: a cache younger than `max_age_s` is used without touching the network;
otherwise the exchange is asked; if that fails with a network-type error (slow / unreachable /
down) or an unreadable answer (one listing no market at all: never saved over the cache) and
ANY cache for this exchange exists, the stale cache is used and a warning logged. A cache that
cannot be written is said in one warning; the markets fetched are used all the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ccxt
from loguru import logger

from exchange.ccxt.convert import has_precision
from observability.error_text import describe
from storage.atomic_file import atomic_write_text, remove_leftover_temps

Markets = dict[str, dict[str, Any]]


def save(path: Path, exchange_key: str, markets: Markets, now_ms: int) -> None:
    """Atomically write the cache file (storage/atomic_file.py: its temp file names the
    writer's pid, so a killed write's is known and removed by the next load: `load_or_fetch`;
    mkstemp's random names could not be told from a live worker's)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"exchange": exchange_key, "saved_at_ms": int(now_ms), "markets": markets}
    atomic_write_text(path, json.dumps(payload, separators=(",", ":"), default=str))


def read(path: Path, exchange_key: str,
         check: Callable[[Markets], Any] | None = None) -> tuple[int, Markets] | None:
    """(saved_at_ms, markets) if the file exists, parses, is for this exchange and its markets
    pass `check` (ccxt's `set_markets` on them: a hand edit or a damaged disk that leaves
    JSON of another shape raised TypeError / KeyError out of every start until the cache
    aged out), else None."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        reason = "nested too deep" if isinstance(exc, RecursionError) else exc
        logger.warning("markets cache {} unreadable, ignoring it: {}", path, reason)
        return None
    if not isinstance(payload, dict) or payload.get("exchange") != exchange_key \
            or not isinstance(payload.get("markets"), dict):
        logger.warning("markets cache {} is not for {}, ignoring it", path, exchange_key)
        return None
    try:
        saved_at_ms = int(payload.get("saved_at_ms", 0))
    except (TypeError, ValueError, OverflowError):
        logger.warning("markets cache {}: saved_at_ms {!r} is not a time, ignoring it", path,
                       payload.get("saved_at_ms"))
        return None
    if check is not None:
        try:
            check(payload["markets"])
        except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
            logger.warning("markets cache {} unreadable, ignoring it: markets ccxt cannot "
                           "read ({})", path, describe(exc))
            return None
    return saved_at_ms, payload["markets"]


def load_or_fetch(
    path: Path | None,
    exchange_key: str,
    fetch: Callable[[], Markets],
    *,
    max_age_s: float,
    now_ms: Callable[[], int],
    check: Callable[[Markets], Any] | None = None,
) -> Markets:
    """Fresh cache, else `fetch()` (and save), else any-age cache with a warning. `check`:
    raises on cached markets that cannot be used (`read`)."""
    if path is not None:
        remove_leftover_temps(path)  # a kill -9 between a save and its rename left them
    cached = read(path, exchange_key, check) if path is not None else None
    if cached is not None and now_ms() - cached[0] <= max_age_s * 1000:
        logger.info("markets for {} loaded from cache {}", exchange_key, path)
        return cached[1]
    try:
        try:
            markets = fetch()
        except (TypeError, KeyError, ValueError, AttributeError, IndexError) as exc:
            # ccxt's parser on an answer of a shape it does not expect (a row without its
            # filters): unreadable, as a network failure; the cache serves if there is one
            raise ccxt.BadResponse(f"{exchange_key}'s markets answer could not be read "
                                   f"({describe(exc)})") from exc
        if not markets:  # a venue always lists markets: an empty list is an unreadable answer
            raise ccxt.BadResponse(f"{exchange_key} answered no markets at all")
        if not any(has_precision(m) for m in markets.values()):
            # not one market the bot could trade (found by review: saved over a good cache, it
            # refused every start until that cache aged out, 24 h)
            raise ccxt.BadResponse(f"{exchange_key} answered markets without their precision")
    except (ccxt.NetworkError, ccxt.BadResponse) as exc:
        if cached is None:
            raise
        age_s = (now_ms() - cached[0]) / 1000
        logger.warning(
            "markets for {} could not be fetched ({}: {}); using cache {} aged {:.0f}s",
            exchange_key, type(exc).__name__, exc, path, age_s,
        )
        return cached[1]
    if path is not None:
        try:
            save(path, exchange_key, markets, now_ms())
        except OSError as exc:  # the cache only spares a later start a slow venue: the markets
            # just read stay in use (the write's error failed the start after they were read)
            logger.warning("markets cache {} could not be written ({}); the markets just read "
                           "are used, the next start asks the exchange again", path, exc)
    return markets
