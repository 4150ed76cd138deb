"""`bot.py backtest` and its `--out` folder: a run leaves there only its own report files (an
earlier run's charts, an earlier sweep's runs and ranking, or a single run's report next to a
sweep's ranking are removed; any other file stays); a sweep ranks a run with no trades last; a
candle file starting with a UTF-8 byte-order mark runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bot
from runtime import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "backtest.toml"
ETH = "ETHBTC/USDT:USDT"
SHORT = ("--to", "2018-01-11", "--no-progress")


def _bt(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.dispatch(bot.parser().parse_args(["backtest", "--config", str(EXAMPLE), *argv]))
    out, err = capsys.readouterr()
    return code, out, err


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_run_without_charts_removes_the_earlier_runs_charts(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # found by review: --no-charts rewrote the report but left the previous run's chart.html
    # and equity.png beside it, to be read as this run's
    code, _, err = _bt(capsys, *SHORT, "--out", str(tmp_path))
    assert code == 0, err
    assert _names(tmp_path) == ["chart.html", "equity.png", "report.json", "report.txt"]
    (tmp_path / "notes.txt").write_text("mine\n")
    (tmp_path / "mine").mkdir()
    code, out, err = _bt(capsys, *SHORT, "--no-charts", "--out", str(tmp_path))
    assert code == 0, err
    assert _names(tmp_path) == ["mine", "notes.txt", "report.json", "report.txt"]
    assert "chart.html" not in out and (tmp_path / "notes.txt").read_text() == "mine\n"


def test_a_run_and_a_sweep_in_one_folder_leave_only_their_own_files(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sweep = ("--sweep", "strategy.entry_z=1.5,2.5", "--processes", "1", "--no-charts")
    code, _, err = _bt(capsys, *SHORT, "--out", str(tmp_path))
    assert code == 0, err
    (tmp_path / "notes.txt").write_text("mine\n")
    code, _, err = _bt(capsys, *SHORT, *sweep, "--out", str(tmp_path))
    assert code == 0, err
    assert _names(tmp_path) == ["notes.txt", "ranking.json", "ranking.txt", "run-000", "run-001"]
    code, _, err = _bt(capsys, *SHORT, "--no-charts", "--out", str(tmp_path))
    assert code == 0, err
    assert _names(tmp_path) == ["notes.txt", "report.json", "report.txt"]


def test_a_sweep_ranks_a_run_without_trades_last_and_says_so(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # found by review: ranked by drawdown, the run that never traded (drawdown 0) was first
    code, out, err = _bt(capsys, *SHORT, "--no-charts", "--out", str(tmp_path), "--processes",
                         "1", "--sweep", "strategy.entry_z=2,50", "--rank", "max_drawdown_pct")
    assert code == 0, err
    rows = json.loads((tmp_path / "ranking.json").read_text())
    assert [r["overrides"]["strategy.entry_z"] for r in rows] == [2, 50]
    assert rows[0]["summary"]["trades"] > 0 and rows[1]["summary"]["trades"] == 0
    assert rows[0]["summary"]["max_drawdown_pct"] < rows[1]["summary"]["max_drawdown_pct"] == 0
    lines = [line for line in out.splitlines() if "run-00" in line]
    assert "no trades" not in lines[0] and "0 (no trades)" in lines[1]


def test_a_candle_file_with_a_byte_order_mark_runs(capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    # found by review: "line 1: expected the header ..." without a word about the mark
    src = ROOT / "examples" / "data" / "ETHBTC_USDT_USDT-5m.csv"
    marked = tmp_path / "eth.csv"
    marked.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
    runs = []
    for name, path in (("plain", src), ("marked", marked)):
        code, _, err = _bt(capsys, *SHORT, "--no-charts", "--csv", f"{ETH}={path}",
                           "--out", str(tmp_path / name))
        assert code == 0, err
        report = json.loads((tmp_path / name / "report.json").read_text())
        runs.append((report["summary"], report["trades"]))
    assert runs[0] == runs[1] and runs[0][0]["trades"] > 0


def test_a_second_backtest_into_the_same_folder_is_refused_while_the_first_runs(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # found by review: two runs into one --out (the default <data dir>/backtest from two
    # terminals) mixed one run's report.txt with the other's report.json and charts, and a
    # sweep starting there removed the run folders of a sweep still running
    import fcntl
    import os

    out = tmp_path / "out"
    out.mkdir()
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the first backtest, as far as the kernel knows
        code, _, err = _bt(capsys, *SHORT, "--no-charts", "--out", str(out))
        assert code == 2
        assert err == (f"bot.py: error: backtest: --out {out}: another backtest is writing its "
                       "reports there; wait for it to end (or stop it), or pick another --out\n")
        assert _names(out) == []
    finally:
        os.close(fd)
    code, _, err = _bt(capsys, *SHORT, "--no-charts", "--out", str(out))
    assert code == 0, err
    assert _names(out) == ["report.json", "report.txt"]


def test_a_link_planted_at_a_report_temp_name_is_never_written_through(tmp_path: Path) -> None:
    """The report files (and the candle cache) were written through a temp file named
    `.<name>.<pid>.tmp`, opened without O_EXCL: in a folder others may write (`--out /tmp/r`,
    a shared candle folder; /tmp itself where fs.protected_symlinks is 0) a symlink planted at
    that predictable name was followed, and the victim file it pointed at (the user's own)
    truncated, made 0600 and overwritten with the report, the report then being that link
    (found by review). The temp file is now created new (O_EXCL: never through a link) under
    a name no one can guess."""
    import os

    from backtest.files import write_private

    victim = tmp_path / "victim.txt"
    victim.write_text("mine\n")
    os.chmod(victim, 0o644)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / f".report.json.{os.getpid()}.tmp").symlink_to(victim)
    write_private(shared / "report.json", b"{}\n")
    assert victim.read_text() == "mine\n" and os.stat(victim).st_mode & 0o777 == 0o644
    report = shared / "report.json"
    assert not report.is_symlink() and report.read_bytes() == b"{}\n"
    assert os.stat(report).st_mode & 0o777 == 0o600
