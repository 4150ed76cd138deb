"""Every key config.toml sets is named in README.md (found by review: six `[signals]` keys -
http_enabled, websocket_token_env, max_body_bytes and the reconnect backoff's three - were in
no README table or text, so a reader of the README's configuration could not know them).
config.toml's values are the defaults: they must also be what the settings hold with no key."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _keys(table: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...],
                                                                               Any]]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _keys(value, prefix + (key,))
        else:
            yield prefix + (key,), value


def _shipped() -> list[tuple[tuple[str, ...], Any]]:
    return list(_keys(tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))))


def test_every_key_of_config_toml_is_named_in_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    named = " ".join(re.findall(r"`[^`\n]*`", readme))
    missing = [".".join(path) for path, _ in _shipped()
               if not re.search(rf"\b{re.escape(path[-1])}\b", named)]
    assert missing == []


def test_config_toml_holds_the_defaults():
    settings = Settings.model_validate({"symbols": {"list": ["BTC/USDT:USDT"]}})
    for path, value in _shipped():
        if path == ("symbols", "list"):
            continue
        held: Any = settings
        for part in path:
            held = getattr(held, part)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert Decimal(str(held)) == Decimal(repr(value)), path
        else:
            assert (list(held) if isinstance(held, tuple) else held) == value, path
