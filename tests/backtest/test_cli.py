"""`bot.py backtest`: determinism, the files it writes and sweeps (its data: test_cli_data.py)."""

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


def test_json_on_stdout_is_report_json(tmp_path: Path) -> None:
    """`--json` prints the report.json the run writes (found by review: stdout also held the
    rendered text report as a "text" field, and its own number formatting)."""
    done = subprocess.run([sys.executable, "bot.py", "backtest", "--config", str(EXAMPLE),
                           "--to", "2018-01-11", "--json", "--no-charts", "--out",
                           str(tmp_path / "o")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == (tmp_path / "o" / "report.json").read_text() + "\n"


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
