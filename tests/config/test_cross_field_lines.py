"""A check of two keys (exit_z < entry_z, ws_url needs api_url, hedge_grid needs hedge_mode) is
refused in one line naming the file, the line of the key the file sets and both keys, also when
the key the message starts with is a default the file never writes (found by review: no line,
or the line of the table header instead of the key). So are the checks of [signals] and
[telegram] that `run` made only once the bot was starting, with no file or line at all
("bot.py: error: signals.http_enabled: false and signals.websocket_url is empty ...")."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings

SYMBOLS = '[symbols]\nlist = ["BTC/USDT:USDT"]\n'

CASES = [
    # (file text, the 1-based line the message must name, the keys it must name)
    (SYMBOLS + '[strategy]\nname = "hedge_grid"\n', 4,
     ("exchange.hedge_mode", "strategy.name")),
    (SYMBOLS + "[strategy]\nwindow = 50\nentry_z = 0.2\n", 5,
     ("strategy.exit_z", "strategy.entry_z")),
    ('[bot]\nmode = "live"\n' + SYMBOLS, 2, ("exchange.id", "bot.mode")),
    (SYMBOLS + "[supervision]\nmax_restarts = 3\nheartbeat_interval_s = 10\n", 5,
     ("supervision.heartbeat_timeout_s", "supervision.heartbeat_interval_s")),
    (SYMBOLS + "[logging]\nlevel = \"INFO\"\nrotate_mb = 5000\n", 5,
     ("logging.max_total_mb", "logging.rotate_mb")),
    (SYMBOLS + '[strategy]\nname = "hedge_grid"\n[exchange]\nhedge_mode = true\n', 4,
     ("risk.stop_loss_pct", "strategy.name")),
    (SYMBOLS + '[paper]\nseed = 3\nprice_source = "csv"\n', 5,
     ("paper.csv_files", "paper.price_source")),
    (SYMBOLS + "[signals]\nenabled = true\nhttp_enabled = false\n", 5,
     ("signals.http_enabled", "signals.websocket_url")),
    (SYMBOLS + '[signals]\nenabled = true\ntoken_env = ""\n', 5,
     ("signals.token_env", "signals.http_enabled")),
    (SYMBOLS + "[telegram]\nenabled = true\n", 4, ("telegram.chat_ids", "telegram.enabled")),
    (SYMBOLS + "[telegram]\nretry_initial_s = 120\nretry_max_s = 0.5\n", 5,
     ("telegram.retry_max_s", "telegram.retry_initial_s")),
    ('strategy.entry_z = 2.5\n[[accounts]]\nname = "a"\nsymbols.list = ["BTC/USDT:USDT"]\n'
     '[[accounts]]\nname = "b"\nsymbols.list = ["ETH/USDT:USDT"]\n[accounts.strategy]\n'
     'window = 50\nentry_z = 0.2\n', 10,
     ("accounts[1].strategy.exit_z", "strategy.entry_z")),
]


@pytest.mark.parametrize(("text", "line", "keys"), CASES)
def test_a_two_key_refusal_names_the_line_of_the_key_the_file_sets(
        tmp_path: Path, text: str, line: int, keys: tuple[str, ...]):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: {keys[0]}: "), message
    assert all(key in message for key in keys), message
    assert "\n" not in message
