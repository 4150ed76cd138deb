"""A stray quote (") in a paper.csv_files file: one line naming the line the quote is on, as
the backtest's reader says it (backtest/candles.py `_one_line_rows`).

Found by running `bot.py` on such a file: the csv module read on past the quote, so paper mode
named the file's last line and printed the rest of the file in its error (3.6 KB for 45 rows),
and in a file longer than the csv module's field limit the start ended in `unexpected Error in
run: field larger than field limit (131072)`, naming neither the file nor the line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ETH = ROOT / "examples" / "data" / "ETHBTC_USDT_USDT-5m.csv"
LTC = ROOT / "examples" / "data" / "LTCBTC_USDT_USDT-5m.csv"


def _config(tmp_path: Path, ltc_lines: list[str]) -> Path:
    (tmp_path / "eth.csv").write_text("".join(ETH.read_text().splitlines(True)[:50]))
    (tmp_path / "ltc.csv").write_text("\n".join(ltc_lines) + "\n")
    config = tmp_path / "c.toml"
    config.write_text(
        '[bot]\ndata_dir = "d"\n[symbols]\nlist = ["ETHBTC/USDT:USDT", "LTCBTC/USDT:USDT"]\n'
        "[dashboard]\nenabled = false\n[logging]\nconsole = false\n"
        '[paper]\nprice_source = "csv"\n'
        'csv_files = { "ETHBTC/USDT:USDT" = "eth.csv", "LTCBTC/USDT:USDT" = "ltc.csv" }\n')
    return config


@pytest.mark.parametrize(("rows", "why"), [
    (50, 'a quote (") is not closed on its line'),
    (5761, "not a CSV row (field larger than field limit (131072); a quote not closed?)"),
], ids=["short file", "past the field limit"])
def test_a_quote_not_closed_on_its_line_names_that_line(tmp_path, rows, why):
    lines = LTC.read_text().splitlines()[:rows]
    stamp, *values = lines[6].split(",")
    lines[6] = ",".join([stamp, *values[:-1], '"' + values[-1]])  # line 7: `...,"1354.52`
    config = _config(tmp_path, lines)
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "--config", str(config),
                           "--duration", "5"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: paper.csv_files: {tmp_path / 'ltc.csv'}, line 7: "
                           f"{why}\n"), done.stderr[:500]
