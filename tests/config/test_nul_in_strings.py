"""A NUL character in a string or path key is a config error naming the key, not an
"unexpected ValueError" from the file system."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, load_settings
from tests.config.refusals import unlined

ROOT = Path(__file__).resolve().parents[2]
BTC = "BTC/USDT:USDT"
NUL = "\\u0000"  # the TOML escape


@pytest.mark.parametrize(("text", "key"), [
    (f'[exchange]\nsecrets_file = "keys{NUL}.toml"', "exchange.secrets_file"),
    (f'[bot]\ndata_dir = "da{NUL}ta"', "bot.data_dir"),
    (f'[storage]\npath = "bot{NUL}.sqlite"', "storage.path"),
    (f'[paper]\nprice_source = "csv"\ncsv_files = {{"{BTC}" = "btc{NUL}.csv"}}',
     f'paper.csv_files["{BTC}"]'),
    (f'[[accounts]]\nname = "a"\nexchange.secrets_file = "k{NUL}.toml"',
     "accounts[0].exchange.secrets_file"),
])
def test_a_nul_character_is_refused_naming_the_key(tmp_path: Path, text: str, key: str):
    path = tmp_path / "config.toml"
    path.write_text(f'[symbols]\nlist = ["{BTC}"]\n{text}\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = unlined(str(info.value))
    assert message.startswith(f"{path}: {key}: must not contain a NUL character")
    assert "\n" not in message and "\x00" not in message


def test_bot_status_names_the_key_holding_a_nul(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(f'[symbols]\nlist = ["{BTC}"]\n[exchange]\nsecrets_file = "keys{NUL}.toml"\n')
    result = subprocess.run([sys.executable, str(ROOT / "bot.py"), "status", "--config",
                             str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert unlined(result.stderr) == (
        f"bot.py: error: {path}: exchange.secrets_file: must not contain a "
        'NUL character (got "keys\\u0000.toml")\n')
