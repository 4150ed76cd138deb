"""A config value of the wrong form is refused naming the accepted form in words, never as a
regular expression, and an exchange id in the wrong case names the id it is (found by review:
`signals.path: must match ^/\\S*$ (got "signals")`, `signals.websocket_url: must match
^(wss?://\\S+)?$`, `exchange.id: ... (got "Bybit")` with no word of "bybit")."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings

SYMBOLS = '[symbols]\nlist = ["BTC/USDT:USDT"]\n'


@pytest.mark.parametrize(("line", "expected"), [
    ('signals.path = "signals"',
     'signals.path: must be a URL path starting with "/", without spaces (got "signals")'),
    ('signals.websocket_url = "https://feed.example"',
     'signals.websocket_url: must be a ws:// or wss:// URL, or "" for none'),
    ('telegram.api_url = "api.telegram.org"',
     "telegram.api_url: must be an http(s):// URL (the Bot API's host, optionally a path)"),
    ('cluster.node_id = "node one"',
     "cluster.node_id: must be up to 200 characters of A-Z, a-z, 0-9, _ . : - "
     '(got "node one")'),
    ('exchange.id = "Bybit"',
     'exchange.id: must be "paper" or a ccxt exchange id such as "bybit", "binanceusdm"; '
     'did you mean "bybit"? (got "Bybit")'),
    ('exchange.id = "Paper"',
     'exchange.id: must be "paper" or a ccxt exchange id such as "bybit", "binanceusdm"; '
     'did you mean "paper"? (got "Paper")'),
])
def test_a_value_of_the_wrong_form_names_the_form_in_words(tmp_path: Path, line: str,
                                                           expected: str):
    path = tmp_path / "config.toml"
    path.write_text(line + "\n" + SYMBOLS)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value) == f"{path}:1: {expected}"
