"""`bot.py backtest` on its candle data: one-line errors for bad data, gaps and late starts,
ranges, and --csv / --data in place of the config's files (split from test_cli.py by topic)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import bot
from runtime import cli
from tests.backtest.test_cli import ETH, EXAMPLE, HEADER, ROOT, _bt


def _csv(tmp: Path, body: str) -> Path:
    path = tmp / "bad.csv"
    path.write_text(HEADER + body)
    return path


GOOD = "1515560100000,0.1,0.2,0.05,0.15,1\n1515560400000,0.1,0.2,0.05,0.15,1\n"


@pytest.mark.parametrize("body, words", [
    ("1515560400000,0.1,0.2,0.05,0.15,1\n1515560100000,0.1,0.2,0.05,0.15,1\n",
     "line 3: unsorted timestamp"),
    ("1515560100000,0.1,0.2,0.05,0.15,1\n1515560100000,0.1,0.2,0.05,0.15,1\n",
     "line 3: duplicate timestamp"),
    ("1515560100000,NaN,0.2,0.05,0.15,1\n", "line 2: prices must be finite and positive"),
    ("1515560100000,0.1,0.2,0,0.15,1\n", "line 2: prices must be finite and positive"),
    ("1515560100000,0.1,0.2,0.05,0.15,1\n1515560400000,0.1,x,0.05,0.15,1\n",
     "line 3: not a number"),
    ("1515560100000,0.1,0.2,0.05,0.15,1\n1515560400000,0.1,\x1b[2J,0.05,0.15,1\n",
     "line 3: not a number in 1515560400000,0.1,\\x1b[2J,0.05"),  # no terminal escape
    (GOOD + "1515561000000,0.1,0.2,0.05,0.15,1\n", "1 gap (line 4: 1 candle missing"),
    # a quote not closed on its line: the csv module read on to the next one (an error naming
    # a later line), or, past its field size limit, raised a traceback (found by review)
    (GOOD + '1515560700000,"0.1,0.2,0.05,0.15,1\n1515561000000,0.1,0.2,0.05,0.15,1\n'
     '1515561300000,0.1,0.2,0.05,0.15,1\n', "line 4: a quote (\") is not closed on its line"),
    (GOOD + '1515560700000,"0.1,0.2,0.05,0.15,1\n' + "1515561000000,0.1,0.2,0.05,0.15,1\n"
     * 5000, "line 4: not a CSV row (field larger than field limit"),
])
def test_bad_data_is_one_line_naming_file_and_line(tmp_path: Path, body: str, words: str,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path, body)
    code, _, err = _bt(capsys, "--csv", f"{ETH}={path}", "--no-charts", "--out", str(tmp_path))
    assert code == 2
    assert err.count("\n") == 1 and str(path) in err and words in err, err


def test_gaps_run_when_allowed_and_are_listed(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    lines = (ROOT / "examples/data/ETHBTC_USDT_USDT-5m.csv").read_text().splitlines()
    path = tmp_path / "holes.csv"
    path.write_text("\n".join(lines[:200] + lines[230:600]) + "\n")
    code, out, err = _bt(capsys, "--csv", f"{ETH}={path}", "--allow-gaps", "--no-charts",
                         "--no-progress", "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert f"{ETH}: ran with 1 gap in {path} (first at line 201)" in out
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["data"][ETH]["gaps"][0]["missing"] == 30


def test_a_symbol_the_config_does_not_trade_and_an_empty_range(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _csv(tmp_path, GOOD)
    code, _, err = _bt(capsys, "--csv", f"DOGE/USDT:USDT={path}")
    assert code == 2 and "--csv DOGE/USDT:USDT: the config does not trade this symbol" in err
    code, _, err = _bt(capsys, "--from", "2019-01-01", "--no-charts")
    assert code == 2 and "no candles in the range 2019-01-01 00:00" in err
    assert err.count("\n") == 1


def test_a_from_not_before_to_is_one_line_naming_the_options(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: a --from after --to was blamed on the first data file ("ETH...csv: no
    candles in the range ..."), though the file is fine: the range is empty by itself."""
    code, out, err = _bt(capsys, "--from", "2018-01-15", "--to", "2018-01-12", "--no-charts",
                         "--out", str(tmp_path))
    assert code == 2 and out == ""
    assert err == ("bot.py: error: --from 2018-01-15 00:00 is not before --to 2018-01-12 00:00: "
                   "the range is empty\n")


@pytest.mark.parametrize("body, words", [
    (GOOD.encode() + b"1515560700000,0.1,0.2,0.05,0.1\xff5,1\n",
     "line 4: not UTF-8 text (byte 0xff)"),
    (GOOD.encode() + b"1515560700000,0.1,1E+24,0.05,0.15,1\n", "line 4: outlier price 1E+24"),
    (GOOD.encode() + b"1515560700000,0.1,1E+999999999,0.05,0.15,1\n",
     "line 4: outlier price 1E+999999999"),
    (GOOD.encode() + b"99999999999999999999,0.1,0.2,0.05,0.15,1\n",
     "line 4: timestamp 99999999999999999999 is not in ms since the epoch"),
    # found by review: an hourly file in seconds ran as 3.6 s candles dated 1970, no error
    (b"1515560700,0.1,0.2,0.05,0.15,1\n1515564300,0.1,0.2,0.05,0.15,1\n",
     "line 2: timestamp 1515560700 looks like seconds, not ms since the epoch"),
])
def test_undecodable_or_outlying_data_is_one_line_from_the_cli(tmp_path: Path, body: bytes,
                                                               words: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(HEADER.encode() + body)
    proc = subprocess.run([sys.executable, "bot.py", "backtest", "--config", str(EXAMPLE),
                           "--csv", f"{ETH}={path}", "--no-charts", "--no-progress",
                           "--out", str(tmp_path / "o")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and f"{path}, {words}" in proc.stderr, proc.stderr


def test_a_symbol_whose_data_starts_late_is_a_hole_too(tmp_path: Path) -> None:
    # found by review: a second symbol's file starting 40 h after the first ran silently (its
    # price frozen until then, `gaps: []`)
    src = ROOT / "examples" / "data" / "LTCBTC_USDT_USDT-5m.csv"
    rows = src.read_text().splitlines()
    late = tmp_path / "ltc-late.csv"
    late.write_text("\n".join([rows[0], *rows[1 + 480:]]) + "\n")  # 480 x 5 min = 40 h later
    base = [sys.executable, "bot.py", "backtest", "--config", str(EXAMPLE),
            "--csv", f"LTCBTC/USDT:USDT={late}", "--to", "2018-01-14", "--no-charts",
            "--no-progress"]
    proc = subprocess.run([*base, "--out", str(tmp_path / "a")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"bot.py: error: {late}: covers ")
    assert "480 candles missing before it" in proc.stderr and "--allow-gaps" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = subprocess.run([*base, "--allow-gaps", "--out", str(tmp_path / "b")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "b" / "report.json").read_text())
    assert report["data"]["LTCBTC/USDT:USDT"]["missing_before_after"][0] == 480
    assert "missing_before_after" not in report["data"][ETH]
    text = (tmp_path / "b" / "report.txt").read_text()
    assert "LTCBTC/USDT:USDT: ran with 480 candles missing before its data" in text


def test_a_candle_off_the_files_steps_is_one_line_naming_it(tmp_path: Path) -> None:
    """A 5-minute file with one stray candle 2 minutes after another (found by review: the
    smallest step was taken for the timeframe, so the file read as 2-minute candles, every
    5-minute step a "gap" naming the wrong line, and with --allow-gaps it ran so)."""
    ts = [1515560100000 + i * 300_000 for i in range(40)]
    ts.insert(3, ts[2] + 120_000)
    path = _csv(tmp_path, "".join(f"{t},0.1,0.2,0.05,0.15,1\n" for t in ts))
    done = subprocess.run([sys.executable, "bot.py", "backtest", "--config", str(EXAMPLE), "--csv",
                           f"{ETH}={path}", "--no-charts", "--no-progress", "--allow-gaps",
                           "--out", str(tmp_path / "o")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stdout
    assert done.stderr == (f"bot.py: error: {path}, line 5: timestamp {ts[3]} is 120 s after the "
                           "previous candle, off the file's 300 s steps\n")


def test_a_range_past_the_data_runs_over_the_data_and_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--from before the data's first candle and --to after its last: the backtest runs over
    the data there is and names each symbol's real start and end on stderr (stdout, the
    report, stays as it was)."""
    code, out, err = _bt(capsys, "--from", "2018-01-09", "--to", "2018-03-01", "--out",
                         str(tmp_path / "wide"), "--no-charts", "--no-progress")
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("bot.py: note: ")]
    assert len(notes) == 4, err  # two symbols, each starting late and ending early
    for symbol in ("ETHBTC/USDT:USDT", "LTCBTC/USDT:USDT"):
        starts = [n for n in notes if symbol in n and "after --from 2018-01-09 00:00" in n]
        ends = [n for n in notes if symbol in n and "before --to 2018-03-01 00:00" in n]
        assert len(starts) == 1 and len(ends) == 1, err
    assert "starts at 2018-01-10 04:55" in err
    assert "note" not in out
    code, _, err = _bt(capsys, "--from", "2018-01-12", "--to", "2018-01-14", "--out",
                       str(tmp_path / "inside"), "--no-charts", "--no-progress")
    assert code == 0, err
    assert "note" not in err


def test_csv_and_data_replace_the_configs_csv_files_which_need_not_exist(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: a copy of examples/backtest.toml in another folder (its paper.csv_files
    paths then name nothing) was refused with `paper.csv_files["ETHBTC/USDT:USDT"]: file not
    found` although --csv gave every symbol's file, or --data the folder to read them from."""
    config = tmp_path / "backtest.toml"
    config.write_text(EXAMPLE.read_text())
    data = ROOT / "examples" / "data"
    csv = ["--csv", f"{ETH}={data / 'ETHBTC_USDT_USDT-5m.csv'}",
           "--csv", f"LTCBTC/USDT:USDT={data / 'LTCBTC_USDT_USDT-5m.csv'}"]
    common = ["backtest", "--config", str(config), "--data-dir", str(tmp_path / "d"), "--to",
              "2018-01-11", "--no-charts", "--no-progress", "--out", str(tmp_path / "out")]
    for given in (csv, ["--data", str(data)]):
        code = cli.dispatch(bot.parser().parse_args([*common, *given]))
        out, err = capsys.readouterr()
        assert code == 0, err
        assert "candles, " in out
    code = cli.dispatch(bot.parser().parse_args([*common, *csv[:2]]))  # one symbol given only
    err = capsys.readouterr().err
    assert code == 2
    assert 'paper.csv_files["LTCBTC/USDT:USDT"]: file not found' in err
    assert 'paper.csv_files["ETHBTC/USDT:USDT"]' not in err
