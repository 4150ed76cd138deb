"""A config refusal names the file and the line that sets the bad key (`file:N: key: ...`),
through the real loader and through `python bot.py`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config import ConfigError, load_settings
from config.locate import key_lines, line_of

REPO = Path(__file__).resolve().parents[2]
SYMBOLS = '[symbols]\nlist = ["BTC/USDT:USDT"]\n'

CASES = [
    # (file text, the key the message names, the 1-based line it must name)
    (SYMBOLS + "[risk]\norder_size_usdt = 50\nstop_loss_pct = -1\n", "risk.stop_loss_pct", 5),
    (SYMBOLS + "[risk]\n# a comment\nleverage = 500  # too much\n", "risk.leverage", 5),
    ('risk.leverage = 0\n' + SYMBOLS, "risk.leverage", 1),
    (SYMBOLS + 'risk.leverage = 0\n', "symbols.risk", 3),  # TOML: the key is in [symbols]
    ('[symbols]\nlist = [\n  "BTC/USDT:USDT",\n  "ETH/USDT",\n]\n', "symbols.list[1]", 2),
    (SYMBOLS + '[bot]\nnote = """\nleverage = 7\n"""\nmode = "papr"\n', "bot.mode", 7),
    (SYMBOLS + "[strategy.grid]\nstep_pct = 2\nrecalc_pct = 1\n",
     "strategy.grid.recalc_pct", 5),
    ('[[accounts]]\nname = "a"\nsymbols.list = ["BTC/USDT:USDT"]\n[[accounts]]\nname = "b"\n'
     'symbols.list = ["ETH/USDT:USDT"]\n[accounts.risk]\nleverage = 500\n',
     "accounts[1].risk.leverage", 8),
    ('[[accounts]]\nname = "a"\nsymbols.list = ["BTC/USDT:USDT"]\n[[accounts]]\n'
     'symbols.list = ["ETH/USDT:USDT"]\n', "accounts[1].name", 4),  # missing: its table
    (SYMBOLS + "[risk]\nstop_los_pct = 1\n", "risk.stop_los_pct", 4),
]


@pytest.mark.parametrize(("text", "key", "line"), CASES)
def test_the_refusal_names_the_line_that_sets_the_key(tmp_path: Path, text: str, key: str,
                                                      line: int):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}:{line}: {key}: "), str(info.value)
    assert text.splitlines()[line - 1]  # the named line is in the file


def test_a_key_set_nowhere_in_the_file_has_no_line_number(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text("[bot]\nmode = 'paper'\n")  # symbols.list: required, no [symbols] table
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value).startswith(f"{path}: symbols"), str(info.value)


def test_every_key_of_the_shipped_config_is_found_at_its_own_line():
    text = (REPO / "config.toml").read_text()
    lines = key_lines(text)
    rows = text.splitlines()
    found = 0
    for number, row in enumerate(rows, start=1):
        stripped = row.strip()
        if stripped.startswith("[") or "=" not in stripped or stripped.startswith("#"):
            continue
        section = next(r.split("#")[0].strip().strip("[]") for r in reversed(rows[:number])
                       if r.strip().startswith("["))
        key = f"{section}.{stripped.split('=', 1)[0].strip()}"
        assert line_of(lines, key) == number, key
        found += 1
    assert found > 40


def test_bot_py_prints_the_file_and_line(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(SYMBOLS + "[risk]\nleverage = 500\n")
    result = subprocess.run([sys.executable, str(REPO / "bot.py"), "status", "--config",
                             str(path)], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (f"bot.py: error: {path}:4: risk.leverage: must be >= 1 and <= 125 "
                             "(got 500)\n")


STRING_CASES = [
    # strings whose text looks like keys, tables or brackets are not read as such
    (SYMBOLS + '[bot]\nnote = """\nsay \\""" ok\n[risk]\nleverage = 7\n"""\n[risk]\n'
     'leverage = 500\n', 10),
    (SYMBOLS + '[bot]\nx = [ """\n]\n[risk]\nleverage = 7\n""" ]\n[risk]\nleverage = 500\n', 10),
    (SYMBOLS + "[bot]\nx = ['" "''\n[risk]\nleverage = 9\n''" "']\n[risk]\nleverage = 500\n", 9),
    (SYMBOLS + "[bot]\nx = ['a\\', \n'b']\n[risk]\nleverage = 500\n", 7),
]


@pytest.mark.parametrize(("text", "line"), STRING_CASES)
def test_text_inside_strings_is_not_taken_for_keys(tmp_path: Path, text: str, line: int):
    path = tmp_path / "config.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    [problem] = [p for p in info.value.problems if "risk.leverage" in p]
    assert problem.startswith(f"{path}:{line}: risk.leverage: "), problem
    assert text.splitlines()[line - 1] == "leverage = 500"


def test_a_quoted_key_with_a_colon_is_found(tmp_path: Path):
    """paper.csv_files["BTC/USDT:USDT"]: the symbol's own line, not its table's."""
    path = tmp_path / "config.toml"
    path.write_text(SYMBOLS + '[paper]\nprice_source = "csv"\n[paper.csv_files]\n'
                    '"BTC/USDT:USDT" = "nope.csv"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert str(info.value).startswith(f'{path}:6: paper.csv_files["BTC/USDT:USDT"]: '), str(
        info.value)
