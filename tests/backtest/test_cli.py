"""`bot.py backtest`: determinism, the files it writes, sweeps, and one-line errors for bad data."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import bot
from runtime import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "backtest.toml"
ETH = "ETHBTC/USDT:USDT"
HEADER = "timestamp,open,high,low,close,volume\n"


def _bt(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.dispatch(bot.parser().parse_args(["backtest", "--config", str(EXAMPLE), *argv]))
    out, err = capsys.readouterr()
    return code, out, err


def test_the_same_config_and_data_give_the_same_report_every_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Byte for byte, report.txt and report.json too (found by review: both held the run's
    wall-clock duration, so no two runs wrote the same report); the duration is printed only."""
    files = []
    for name in ("a", "b"):
        code, out, err = _bt(capsys, "--to", "2018-01-16", "--out", str(tmp_path / name),
                             "--no-charts", "--no-progress")
        assert code == 0, err
        assert re.search(r"^[\d,]+ candles, [\d,]+ decisions in \d+\.\d\d s$", out, re.M)
        files.append([(tmp_path / name / f).read_bytes() for f in ("report.txt", "report.json")])
    assert json.loads(files[0][1])["summary"]["trades"] > 50
    assert files[0] == files[1]
    assert b" s\n" not in files[0][0] and b"seconds" not in files[0][1]


def test_the_cli_writes_report_json_and_charts_privately(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "bot.py", "backtest", "--config", str(EXAMPLE),
                           "--from", "2018-01-12", "--to", "2018-01-14", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    for line in ("Per symbol", "Per exit reason", "max drawdown", "Sharpe (daily)",
                 "Sortino (daily)", "profit factor", "exposure", "average hold",
                 "longest losing streak", f"wrote {out / 'chart.html'}",
                 f"wrote {out / 'equity.png'}"):
        assert line in proc.stdout
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    for name in ("report.txt", "report.json", "chart.html", "equity.png"):
        assert stat.S_IMODE(os.stat(out / name).st_mode) == 0o600
    assert (out / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (out / "chart.html").read_text()
    assert '<script src="http' not in html and len(html) > 1_000_000  # plotly.js inline
    report = json.loads((out / "report.json").read_text())
    assert set(report["per_exit_reason"]) <= {"stop", "trailing stop", "take-profit",
                                              "strategy exit", "escalation"}
    assert sum(r["trades"] for r in report["per_symbol"].values()) == report["summary"]["trades"]


def test_json_output_is_machine_readable(capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path) -> None:
    code, out, _ = _bt(capsys, "--to", "2018-01-12", "--json", "--no-charts",
                       "--out", str(tmp_path))
    assert code == 0
    summary = json.loads(out)["summary"]
    for key in ("trades", "win_rate", "net_pnl", "fees", "max_drawdown", "max_drawdown_pct",
                "sharpe_daily", "sortino_daily", "profit_factor", "exposure_pct", "avg_hold_s",
                "longest_losing_streak"):
        assert key in summary


def test_a_sweep_runs_every_combination_and_ranks_them(capsys: pytest.CaptureFixture[str],
                                                       tmp_path: Path) -> None:
    code, out, err = _bt(capsys, "--to", "2018-01-12", "--no-charts", "--out", str(tmp_path),
                         "--sweep", "strategy.entry_z=1.5,2.5", "--sweep",
                         "risk.trailing_callback_pct=0.2,0.5", "--processes", "2", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 4
    assert {(r["overrides"]["strategy.entry_z"], r["overrides"]["risk.trailing_callback_pct"])
            for r in rows} == {(1.5, 0.2), (1.5, 0.5), (2.5, 0.2), (2.5, 0.5)}
    pnl = [float(r["summary"]["net_pnl"]) for r in rows]
    assert pnl == sorted(pnl, reverse=True)
    assert len({r["summary"]["trades"] for r in rows}) > 1  # the parameters changed something
    for r in rows:
        assert Path(r["report"]).is_file()


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
    (GOOD + "1515561000000,0.1,0.2,0.05,0.15,1\n", "1 gaps (line 4: 1 candles missing"),
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
    assert f"{ETH}: ran with 1 gaps in {path} (first at line 201)" in out
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


def test_a_sweep_key_given_twice_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: the second --sweep of a key replaced the first in every combination,
    so `entry_z=1.5,2` and `entry_z=3` ran entry_z 3 twice, ranked as two runs, silently."""
    code, out, err = _bt(capsys, "--sweep", "strategy.entry_z=1.5,2", "--sweep",
                         "strategy.entry_z=3", "--no-charts", "--out", str(tmp_path / "out"))
    assert code == 2 and out == "" and not (tmp_path / "out").exists()
    assert err == ("bot.py: error: --sweep strategy.entry_z: given twice; put every value in "
                   "one --sweep (strategy.entry_z=1.5,2,3)\n")


def test_journal_writes_the_bots_rows_for_every_decision(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from storage import queries
    from storage.repository import Repository

    db = tmp_path / "journal.sqlite"
    code, _, err = _bt(capsys, "--to", "2018-01-11", "--no-charts", "--no-progress", "--out",
                       str(tmp_path / "o"), "--journal", str(db))
    assert code == 0, err
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    repo = Repository(db)
    try:
        closed = repo.read(queries.events, None, "PositionClosed")
        fills = repo.read(queries.fills)
    finally:
        repo.close()
    assert len(closed) == report["summary"]["trades"] > 0
    assert [e["data"]["net_pnl"] for e in closed] == [t["net_pnl"] for t in report["trades"]]
    assert len(fills) == 2 * len(closed) + report["summary"]["open_at_end"]
    code, _, err = _bt(capsys, "--to", "2018-01-11", "--no-charts", "--journal", str(db))
    assert code == 2 and "the file exists" in err


def test_progress_reports_candles_done_up_to_the_total(tmp_path: Path) -> None:
    from backtest import candles as C
    from backtest import engine
    from config.loader import load_settings

    settings = load_settings(EXAMPLE)
    files = {s: settings.resolve_config_path(f) for s, f in settings.paper.csv_files.items()}
    data = {s: C.load(p, to_ms=1_515_600_000_000) for s, p in files.items()}
    seen: list[int] = []
    engine.run(settings, data, progress=seen.append, progress_every=40)
    total = sum(len(c) for c in data.values())
    assert len(seen) > 5 and seen == sorted(seen) and seen[-1] == total


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


def test_out_naming_an_existing_file_is_one_line_from_the_cli(tmp_path: Path) -> None:
    taken = tmp_path / "report"
    taken.write_text("not a folder\n")
    proc = subprocess.run([sys.executable, "bot.py", "backtest", "--config", str(EXAMPLE),
                           "--to", "2018-01-11", "--no-charts", "--no-progress",
                           "--out", str(taken)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2
    assert proc.stderr == f"bot.py: error: --out {taken}: exists and is not a folder\n"
    assert taken.read_text() == "not a folder\n"


def _sweep(capsys: pytest.CaptureFixture[str], out: Path, values: str) -> tuple[int, str, str]:
    return _bt(capsys, "--to", "2018-01-11", "--no-charts", "--out", str(out), "--processes", "1",
               "--sweep", f"strategy.entry_z={values}", "--sweep", "risk.trailing_callback_pct=0.2")


def test_a_sweep_keeps_its_overrides_and_its_ranking(capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    code, out, err = _sweep(capsys, tmp_path, "1.5,2.5")
    assert code == 0, err
    for run, z in (("run-000", 1.5), ("run-001", 2.5)):
        report = json.loads((tmp_path / run / "report.json").read_text())
        assert report["overrides"] == {"strategy.entry_z": z, "risk.trailing_callback_pct": 0.2}
        text = (tmp_path / run / "report.txt").read_text()
        assert f"strategy.entry_z = {z}, risk.trailing_callback_pct = 0.2" in text
    table = (tmp_path / "ranking.txt").read_text()
    assert "Sweep ranked by net_pnl" in table and table in out
    rows = json.loads((tmp_path / "ranking.json").read_text())
    assert [f"run-{r['run']:03d}" for r in rows] == re.findall(r"run-\d{3}", table)
    assert {r["overrides"]["strategy.entry_z"] for r in rows} == {1.5, 2.5}
    assert all("net_pnl" in r["summary"] for r in rows)


def test_a_smaller_sweep_into_the_same_folder_leaves_no_earlier_run_behind(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = _sweep(capsys, tmp_path, "1.5,2,2.5")
    assert code == 0, err
    code, _, err = _sweep(capsys, tmp_path, "2")
    assert code == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ranking.json", "ranking.txt",
                                                          "run-000"]
    assert json.loads((tmp_path / "run-000" / "report.json").read_text())["overrides"][
        "strategy.entry_z"] == 2
    # a file a sweep does not write is not deleted: the sweep refuses, in one line
    mine = tmp_path / "run-000" / "notes.txt"
    mine.write_text("mine\n")
    code, _, err = _sweep(capsys, tmp_path, "1.5")
    assert code == 2 and err.count("\n") == 1 and f"{mine} is not a sweep's file" in err, err
    assert mine.read_text() == "mine\n" and (tmp_path / "run-000" / "report.json").is_file()


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


def test_json_on_stdout_is_report_json(tmp_path: Path) -> None:
    """`--json` prints the report.json the run writes (found by review: stdout also held the
    rendered text report as a "text" field, and its own number formatting)."""
    done = subprocess.run([sys.executable, "bot.py", "backtest", "--config", str(EXAMPLE),
                           "--to", "2018-01-11", "--json", "--no-charts", "--out",
                           str(tmp_path / "o")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (tmp_path / "o" / "report.json").read_text() + "\n"


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


def test_every_run_of_a_sweep_starts_from_the_config_as_the_sweep_read_it(
        tmp_path: Path) -> None:
    """Each sweep run read the config file when its process started, so a config edited while a
    long sweep ran (the next experiment being prepared) silently changed the later runs; now the
    sweep reads it once and hands every run those tables. A run after the file was replaced by
    something else entirely gives the same report as the run before."""
    from backtest import sweep
    from backtest.session import SweepWorker

    config = tmp_path / "bt.toml"
    text = EXAMPLE.read_text().replace('"data/', f'"{EXAMPLE.parent}/data/')
    config.write_text(text.replace('data_dir = "../data/backtest_example"',
                                   f'data_dir = "{tmp_path / "data"}"'))
    args = bot.parser().parse_args(["backtest", "--config", str(config), "--to", "2018-01-12",
                                    "--no-charts", "--no-progress", "--out", str(tmp_path / "o")])
    worker = SweepWorker(config=config, raw=sweep.read_config(config), args=vars(args),
                         out=tmp_path / "o", charts=False)
    before = worker(0, {"strategy.entry_z": 1.5})
    config.write_text("[strategy]\nentry_z = [\n")  # edited mid-sweep, not even TOML now
    after = worker(1, {"strategy.entry_z": 1.5})
    assert before["summary"]["trades"] > 10
    assert after["summary"] == before["summary"]


def test_an_existing_out_folder_keeps_its_mode(tmp_path: Path) -> None:
    """`--out` naming a folder that exists (the current one, a shared one, /tmp): the report's
    files are 0600 in it, the folder's own mode is the user's (it was chmod-ed to 0700)."""
    out = tmp_path / "shared"
    out.mkdir()
    os.chmod(out, 0o1777)  # like /tmp: world-writable with the sticky bit
    proc = subprocess.run([sys.executable, "bot.py", "backtest", "--config", str(EXAMPLE),
                           "--from", "2018-01-12", "--to", "2018-01-13", "--no-charts",
                           "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o1777
    assert stat.S_IMODE(os.stat(out / "report.txt").st_mode) == 0o600


def test_a_sweep_value_holding_commas_is_one_value(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: --sweep split its values at every comma, so a list value (or a quoted
    string with a comma) fell apart into pieces kept as raw strings. Now the values are split
    only at the commas between them, and each is read as TOML."""
    config = tmp_path / "bt.toml"  # the example's candles found by --data, not csv_files
    config.write_text(EXAMPLE.read_text().replace("csv_files =", "# csv_files =")
                      .replace('price_source = "csv"', 'price_source = "generator"'))
    argv = ["backtest", "--config", str(config), "--data", str(EXAMPLE.parent / "data"),
            "--timeframe", "5m", "--to", "2018-01-12", "--no-charts", "--out",
            str(tmp_path / "out"), "--processes", "1", "--json", "--no-progress",
            "--sweep", f'symbols.list=["{ETH}","LTCBTC/USDT:USDT"], ["{ETH}"]']
    code = cli.dispatch(bot.parser().parse_args(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads(out)
    assert sorted(r["overrides"]["symbols.list"] for r in rows) == [
        [ETH], [ETH, "LTCBTC/USDT:USDT"]]
    reports = [json.loads((Path(r["report"]).parent / "report.json").read_text()) for r in rows]
    assert sorted(len(r["per_symbol"]) for r in reports) == [1, 2]


@pytest.mark.parametrize(("value", "problem"), [
    ('["a","b"', "a [ or { is not closed"),
    ('"a,b', 'a string opened with " is not closed'),
    ("1.5,,2", "an empty value"),
    ("1.5]", "']' closes nothing"),
    ('["a" "b"]', """value '["a" "b"]' cannot be read"""),
    ("[" * 5000 + "]" * 5000, "nested too deep"),
])
def test_a_sweep_value_that_cannot_be_read_is_one_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str, problem: str) -> None:
    code, out, err = _bt(capsys, "--sweep", f"strategy.entry_z={value}", "--no-charts",
                         "--out", str(tmp_path / "out"))
    assert code == 2 and out == "" and not (tmp_path / "out").exists()
    assert err.startswith("bot.py: error: --sweep 'strategy.entry_z=") and err.count("\n") == 1
    assert problem in err and len(err) < 300, err


def test_sweep_values_are_read_as_toml_or_as_bare_words() -> None:
    from backtest.sweep import parse_axis

    assert parse_axis('strategy.name="a,b", \'c,d\', e').values == ("a,b", "c,d", "e")
    assert parse_axis("strategy.entry_z=1.5,2, true").values == (1.5, 2, True)
    assert parse_axis('x.y={a = 1, b = [2, 3]},{a = 4}').values == (
        {"a": 1, "b": [2, 3]}, {"a": 4})
    assert parse_axis(r'x.y="a\",b",c').values == ('a",b', "c")


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
