"""A live start refused because a listed symbol is no market on the venue names the config file
and the line of symbols.list (its key: `accounts[1].symbols.list` with [[accounts]]), as the
loader's refusals do. Found by review: 'bot.py: error: symbols.list: 'NOPE/USDT:USDT' is not a
market on bybit' named no file and no line - a typo in the file, the line to go to unsaid.
Real ccxt classes against the Bybit emulator on 127.0.0.1, `python bot.py` as a subprocess."""

from __future__ import annotations

from tests.e2e.bot_process import live_start_to_its_end


def test_a_symbol_the_venue_does_not_list_is_refused_naming_the_file_and_line(tmp_path):
    config, code, err = live_start_to_its_end(tmp_path, "bybit",
                                              ["BTC/USDT:USDT", "NOPE/USDT:USDT"])
    assert code == 2, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-2000:]
    assert lines[0] == (f"bot.py: error: {config}:2: symbols.list: 'NOPE/USDT:USDT' is not a "
                        "market on bybit"), lines[0]
