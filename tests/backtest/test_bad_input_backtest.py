"""Bad input to `bot.py backtest`, `--sweep` and `download` is one line naming the problem, exit
code 2, no traceback (review of the command line: cases found by running the commands; the
config and run cases are in tests/runtime/test_bad_input_lines.py, whose helpers these use)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.runtime.test_bad_input_lines import ETH, LTC, ROOT, _bot


def _sweep(tmp_path: Path, *sweeps: str) -> subprocess.CompletedProcess[str]:
    argv = [arg for s in sweeps for arg in ("--sweep", s)]
    return _bot("backtest", "--config", str(ROOT / "examples" / "backtest.toml"), "--no-charts",
                "--no-progress", "--out", str(tmp_path / "out"), *argv)


@pytest.mark.parametrize("sweep, needle", [
    ("strategy.entry_zz=1,2",
     "--sweep: strategy.entry_zz: unknown key (allowed: name, window, entry_z"),
    ("risk.stop_loss_pct=1,60", "--sweep: risk.stop_loss_pct: must be > 0 and <= 50 (got 60)"),
    ("strategy.entry_z=0.2", "--sweep strategy.entry_z=0.2: strategy.exit_z: must be < "
                             "strategy.entry_z (0.2) (got 0.3)"),
    ("strategy.name=hedge_grid", '--sweep strategy.name="hedge_grid": exchange.hedge_mode: '
                                 "must be true"),
    ("exchange.api_url=http://user:hunter2@h.example", "--sweep: exchange.api_url: must not "
                                                       "hold a user name or password"),
])
def test_a_bad_sweep_key_or_value_reads_like_a_config_error(tmp_path, sweep, needle):
    """A sweep's value was checked with pydantic's own text: a typo'd key was `Extra inputs are
    not permitted (got 1)`, a rule across keys printed `--sweep :` and the whole config, a URL
    with a password was echoed. Now the config's own message for the key."""
    done = _sweep(tmp_path, sweep)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert needle in done.stderr, done.stderr
    assert "hunter2" not in done.stderr and "'bot':" not in done.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("data, needle", [
    ("nowhere", "no such folder"),
    ("examples", "no ETHBTC_USDT_USDT-*.csv in it"),
    ("examples/data/ETHBTC_USDT_USDT-5m.csv", "not a folder"),
])
def test_a_data_folder_without_the_files_names_the_folder(tmp_path, data, needle):
    """`backtest --data DIR` (no --timeframe) with a folder that does not exist or lacks a
    symbol's file said `no candle data for X: give --csv X=FILE, --data DIR or paper.csv_files`
    to a user who had given --data DIR. Now the line names the folder and what is wrong."""
    done = _bot("backtest", "--config", "examples/backtest.toml", "--no-charts", "--no-progress",
                "--out", str(tmp_path / "out"), "--data", data)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"bot.py: error: --data {data}: {needle}"), done.stderr


@pytest.mark.parametrize("extra, needle", [
    (["--api-url", "notaurl"], "--api-url: expected http(s)://host[:port]"),
    (["--api-url", "http://me:hunter2@127.0.0.1:9"], "--api-url: expected http(s)://host[:port]"),
    (["--data", "README.md"], "--data README.md: not a folder"),
    (["--timeframe", "1M"], "--timeframe 1M: a month is not one length (ccxt counts 30 days"),
])
def test_a_download_option_that_cannot_work_is_named(tmp_path, extra, needle):
    """`download --api-url notaurl` ended in `download: ExchangeError: bybit sign() has no API
    URL for self endpoint`, `--data FILE` in `download: [Errno 17] File exists: 'FILE'`. Both
    are refused up front naming the option, before any request. So is a month's timeframe:
    ccxt counts `1M` as 30 days, so a 31-day month's candle was written as closed a day before
    it closed, an extension after a February page started 30 days later and skipped March,
    and the backtest refuses the file anyway (its steps are not one length)."""
    done = _bot("download", "--exchange", "bybit", "--symbols", "BTC/USDT:USDT",
                "--from", "2023-11-15", "--to", "2023-11-16", "--data", str(tmp_path / "dl"),
                *extra)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"bot.py: error: {needle}" + done.stderr.split(needle, 1)[1]
    assert done.stderr.count("\n") == 1 and "hunter2" not in done.stderr
    assert not (tmp_path / "dl").exists()


def test_a_timeframe_without_a_data_folder_is_refused_not_ignored(tmp_path):
    """`backtest --timeframe 1m` without --data ran the config's 5-minute files and reported
    them as if asked for: the option only picks --data's files. Refused in one line."""
    done = _bot("backtest", "--config", "examples/backtest.toml", "--no-charts", "--no-progress",
                "--out", str(tmp_path / "out"), "--timeframe", "1m")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "bot.py: error: --timeframe 1m: only with --data DIR" in done.stderr
    assert not (tmp_path / "out").exists()


def test_a_download_from_before_its_files_start_says_what_it_did_not_fetch(tmp_path, capsys):
    """The file to extend starts at 23:13; a second download with --from 22:13 said `0 new
    candles` (exit 0) and nothing about the hour before the file that was asked for and not
    fetched (the download only extends a file forward). Now a `note:` line names both times."""
    from backtest.download import run_download
    from tests.backtest.test_download import START, CountingVenue, _args

    venue = CountingVenue(now_ms=START + 1_000 * 60_000)
    assert run_download(_args(tmp_path, start="2023-11-14T23:13", to="2023-11-15"),
                        exchange=venue) == 0
    capsys.readouterr()
    assert run_download(_args(tmp_path, start="2023-11-14T22:13", to="2023-11-15"),
                        exchange=venue) == 0
    out, err = capsys.readouterr()
    path = tmp_path / "BTC_USDT_USDT-1m.csv"
    assert out == f"BTC/USDT:USDT: 0 new candles -> {path}\n"
    assert err == (f"bot.py: note: {path} starts at 2023-11-14 23:13, after --from 2023-11-14 "
                   "22:13: candles before it are not fetched (a download only extends its file "
                   "forward; move the file away to fetch from --from)\n")
    # resuming with the file's own start says nothing
    assert run_download(_args(tmp_path, start="2023-11-14T23:13", to="2023-11-15T01:00"),
                        exchange=venue) == 0
    assert capsys.readouterr().err == ""


def test_a_csv_symbol_given_twice_is_refused(tmp_path):
    """`--csv X=a.csv --csv X=b.csv` ran b.csv and said nothing about a.csv (as a sweep key
    given twice did before it was refused)."""
    eth = "examples/data/ETHBTC_USDT_USDT-5m.csv"
    done = _bot("backtest", "--config", "examples/backtest.toml", "--no-charts", "--no-progress",
                "--out", str(tmp_path / "out"), "--csv", f"ETHBTC/USDT:USDT={eth}",
                "--csv", "ETHBTC/USDT:USDT=other.csv")
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: --csv ETHBTC/USDT:USDT: given twice ({eth} and "
                           "other.csv); give one file per symbol\n")


def test_a_download_from_an_exchange_without_candles_says_so(tmp_path):
    """`download --exchange bitflyer` (ccxt has no fetch_ohlcv for it) said `--timeframe 1m:
    bitflyer offers ` and nothing after it."""
    done = _bot("download", "--exchange", "bitflyer", "--symbols", "BTC/JPY", "--from",
                "2024-01-01", "--data", str(tmp_path / "dl"))
    assert done.returncode == 2, done.stderr
    assert done.stderr == ("bot.py: error: --exchange bitflyer: ccxt offers no candles "
                           "(fetch_ohlcv) for it\n")
    assert not (tmp_path / "dl").exists()


def test_a_candle_with_a_missing_value_is_refused_not_written_as_none(tmp_path):
    """ccxt gives None for a value a venue left out; the download wrote `...,None` into the
    file, which the backtest then refused, and a resumed download went on after it. The page
    is refused in one line naming the candle; the candles before it stay, resumable."""
    from backtest.download import DownloadError, download_symbol
    from tests.backtest.test_download import START, MinuteVenue

    class Holey(MinuteVenue):
        def fetch_ohlcv(self, symbol, timeframe, since, limit, params):
            rows = super().fetch_ohlcv(symbol, timeframe, since, limit, params)
            return [[*r[:5], None] if r[0] == START + 150 * 60_000 else r for r in rows]

    venue = Holey(now_ms=START + 1_000 * 60_000)
    with pytest.raises(DownloadError) as caught:
        download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 300 * 60_000, tmp_path,
                        limit=100, now_ms=lambda: venue.now_ms, sleep=lambda s: None)
    assert str(caught.value) == (
        "BTC/USDT:USDT: the venue answered the candle at 2023-11-15 00:43 with a missing value "
        "(1700008980000, 100, 101, 99, 100, None); the file keeps the candles before it (run "
        "again to retry)")
    part = tmp_path / "BTC_USDT_USDT-1m.csv.part"
    assert "None" not in part.read_text() and len(part.read_text().splitlines()) == 1 + 100


def test_download_and_backtest_paths_with_a_tilde_go_home_not_into_a_folder_named_tilde(
        tmp_path):
    """`download --data=~/candles` wrote into a new folder literally named `~` in the current
    directory (and `backtest --out=~/r`, `--data=~/...`, `--csv X=~/...`, `--journal=~/...`
    read or wrote there too); --data-dir and the config's paths expand ~."""
    import os
    from decimal import Decimal

    from tests.backtest.test_download import KlineVenue
    from tests.exchange.ccxt.emu_book import Book
    from tests.exchange.ccxt.emu_server import EmulatorServer

    emu = EmulatorServer(KlineVenue(Book({"BTC/USDT:USDT": Decimal(30000)}), candles=300)).start()
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    (tmp_path / "cwd").mkdir()
    try:
        done = subprocess.run(
            [sys.executable, str(ROOT / "bot.py"), "download", "--exchange", "bybit", "--symbols",
             "BTC/USDT:USDT", "--from", "2023-11-14T22:13", "--to", "2023-11-14T23:13",
             "--data=~/candles", "--api-url", emu.base_url],
            cwd=tmp_path / "cwd", capture_output=True, text=True, timeout=120, env=env)
    finally:
        emu.stop()
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "home" / "candles" / "BTC_USDT_USDT-1m.csv").exists()
    assert not (tmp_path / "cwd" / "~").exists()
    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n')
    done = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "backtest", "--config", str(config),
         "--data=~/candles", "--out=~/report", "--journal=~/j.sqlite", "--no-charts",
         "--no-progress"], cwd=tmp_path / "cwd", capture_output=True, text=True, timeout=120,
        env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "home" / "report" / "report.json").exists()
    assert (tmp_path / "home" / "j.sqlite").exists() and not (tmp_path / "cwd" / "~").exists()


@pytest.mark.parametrize("argv", [
    ["download", "--exchange", "bybit", "--symbols", "BTC/USDT:USDT", "--from", "2024-01-01",
     "--to", "2024-01-02", "--data", "~nosuchuser7/candles"],
    ["backtest", "--data", "~nosuchuser7/candles"],
    ["backtest", "--csv", "BTC/USDT:USDT=~nosuchuser7/a.csv"],
    ["backtest", "--out", "~nosuchuser7/r"],
])
def test_a_path_option_naming_an_unknown_users_home_is_one_line(tmp_path, argv):
    """`~typo/...` in a download or backtest path option printed pathlib's traceback ending in
    'RuntimeError: Could not determine home directory.' (found by review; bot.py run and the
    config's paths already named it)."""
    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n')
    extra = ["--config", str(config)] if argv[0] == "backtest" else []
    done = _bot(*argv, *extra, cwd=tmp_path)
    option = next(a for a in argv if "~nosuchuser7" in a)
    option = argv[argv.index(option) - 1]
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr == (f"bot.py: error: {option}: ~nosuchuser7: no such user, so no home "
                           "folder to expand it to\n")


def test_a_second_download_of_the_same_file_is_refused_while_the_first_runs(tmp_path):
    """Two downloads of one symbol and timeframe into one folder (a second terminal, a cron
    job): the second cut the first one's page in flight as a torn line and both appended
    their pages, interleaved. The second is refused in one line while the first holds the
    file (a kernel lock, gone with the process)."""
    import fcntl
    import os

    from backtest.download import DownloadError, download_symbol
    from tests.backtest.test_download import START, MinuteVenue

    venue = MinuteVenue(now_ms=START + 1_000 * 60_000)
    fd = os.open(tmp_path / ".BTC_USDT_USDT-1m.csv.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the first download, as far as the kernel knows
        with pytest.raises(DownloadError) as caught:
            download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 100 * 60_000, tmp_path,
                            now_ms=lambda: venue.now_ms, sleep=lambda s: None)
        assert str(caught.value) == (f"{tmp_path / 'BTC_USDT_USDT-1m.csv'}: another download is "
                                     "writing it; wait for it to end (or stop it), then run "
                                     "this one again")
        assert not (tmp_path / "BTC_USDT_USDT-1m.csv.part").exists()
    finally:
        os.close(fd)
    path, count = download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 100 * 60_000,
                                  tmp_path, now_ms=lambda: venue.now_ms, sleep=lambda s: None)
    assert count == 100 and path.exists()


@pytest.mark.parametrize("timeframe", [[], ["--timeframe", "5m"]])
def test_an_interrupted_download_is_named_as_such_by_the_backtest(tmp_path, timeframe):
    """A download stopped by Ctrl-C leaves `<file>.part`; `backtest --data` then said `no
    X-*.csv in it` or `X-5m.csv: file not found`, nothing about the download to finish."""
    data = tmp_path / "candles"
    data.mkdir()
    (data / "ETHBTC_USDT_USDT-5m.csv").write_bytes(ETH.read_bytes())
    (data / "LTCBTC_USDT_USDT-5m.csv.part").write_bytes(LTC.read_bytes()[:5000])
    done = _bot("backtest", "--config", "examples/backtest.toml", "--no-charts", "--no-progress",
                "--out", str(tmp_path / "out"), "--data", str(data), *timeframe)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "LTCBTC_USDT_USDT-5m.csv.part" in done.stderr
    assert "run the same bot.py download again to finish it" in done.stderr


def _dies_on_run_one(index, overrides):
    import os
    import signal as signals

    if index == 1:
        os.kill(os.getpid(), signals.SIGKILL)  # as the kernel's OOM killer ends a process
    return {"run": index, "overrides": overrides}


def _fails_on_run_two(index, overrides):
    from backtest.candles import DataError

    if index == 2:
        raise DataError("run two's data is bad")
    return {"run": index, "overrides": overrides}


@pytest.mark.timeout(120)  # before the fix it waited for ever
def test_a_sweep_run_whose_process_is_killed_ends_the_sweep_in_one_line():
    """With multiprocessing.Pool a worker killed mid-run (OOM killer, kill -9) lost its task
    and the sweep waited for it for ever (the other runs finished; only Ctrl-C ended it). Now
    the sweep stops with a line naming the run and its combination."""
    from backtest.sweep import SweepError, run_all

    runs = [{"strategy.window": w} for w in (20, 30, 40, 50)]
    with pytest.raises(SweepError) as caught:
        run_all(runs, _dies_on_run_one, processes=2)
    assert str(caught.value) == ("--sweep run-001 (strategy.window=30): its process ended "
                                 "without a result (exit code -9; killed, out of memory?)")
    # a run that raises is its row (tests/backtest/test_sweep_failed_run.py), the others finish
    rows = run_all(runs, _fails_on_run_two, processes=2)
    assert [(r["run"], r.get("error")) for r in rows] == [
        (0, None), (1, None), (2, "run two's data is bad"), (3, None)]
    assert [r["run"] for r in run_all(runs[:2], _fails_on_run_two, processes=2)] == [0, 1]


def test_a_download_refused_for_its_symbol_leaves_no_empty_folder(tmp_path):
    """`download --symbols` naming no market of the venue was refused after the --data folder
    had been created: an empty folder stayed behind (data/candles by default)."""
    from backtest.download import DownloadError, run_download
    from tests.backtest.test_download import START, CountingVenue, _args

    args = _args(tmp_path / "candles", start="2023-11-14T22:13", to="2023-11-15")
    args.symbols = ["NOPE/USDT:USDT"]
    with pytest.raises(DownloadError, match="'NOPE/USDT:USDT' is not a market on bybit"):
        run_download(args, exchange=CountingVenue(now_ms=START + 1_000 * 60_000))
    assert not (tmp_path / "candles").exists()


def test_a_candle_without_a_timestamp_is_one_line_not_a_traceback(tmp_path):
    """ccxt gives None for a timestamp a venue left out; comparing it with the window ended the
    download in a TypeError traceback. The page is refused in one line; the candles before it
    stay, resumable."""
    from backtest.download import DownloadError, download_symbol
    from tests.backtest.test_download import START, MinuteVenue

    class Timeless(MinuteVenue):
        def fetch_ohlcv(self, symbol, timeframe, since, limit, params):
            rows = super().fetch_ohlcv(symbol, timeframe, since, limit, params)
            return [[None, *r[1:]] if r[0] == START + 150 * 60_000 else r for r in rows]

    venue = Timeless(now_ms=START + 1_000 * 60_000)
    with pytest.raises(DownloadError) as caught:
        download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 300 * 60_000, tmp_path,
                        limit=100, now_ms=lambda: venue.now_ms, sleep=lambda s: None)
    assert str(caught.value) == (
        "BTC/USDT:USDT: the venue answered a candle without a timestamp (None, 100, 101, 99, "
        "100, 1) for the window from 2023-11-14 23:53; the file keeps the candles before it "
        "(run again to retry)")
    part = tmp_path / "BTC_USDT_USDT-1m.csv.part"
    assert len(part.read_text().splitlines()) == 1 + 100


def test_a_download_whose_venue_has_no_older_candles_says_where_the_file_starts(tmp_path,
                                                                               capsys):
    """A venue that keeps only recent candles (or a symbol listed after --from) answered the
    windows before 23:13 with nothing: the download said `N new candles` and exit 0, not a
    word of the hour asked for and not there. Now a `note:` line names where the file starts."""
    from backtest.download import run_download
    from tests.backtest.test_download import START, CountingVenue, _args

    class RecentOnly(CountingVenue):
        def fetch_ohlcv(self, symbol, timeframe, since, limit, params):
            rows = super().fetch_ohlcv(symbol, timeframe, since, limit, params)
            return [r for r in rows if r[0] >= START + 60 * 60_000]

    venue = RecentOnly(now_ms=START + 1_000 * 60_000)
    assert run_download(_args(tmp_path, start="2023-11-14T22:13", to="2023-11-15"),
                        exchange=venue) == 0
    out, err = capsys.readouterr()
    path = tmp_path / "BTC_USDT_USDT-1m.csv"
    assert out == f"BTC/USDT:USDT: 47 new candles -> {path}\n"
    assert err == (f"bot.py: note: {path} starts at 2023-11-14 23:13, after --from 2023-11-14 "
                   "22:13: bybit answered no 1m candles before it (a symbol listed later, or "
                   "the venue keeps no older history of this timeframe)\n")
    # extending it from its own start, or a download from where the venue's candles start,
    # says nothing
    assert run_download(_args(tmp_path, start="2023-11-14T23:13", to="2023-11-15T01:00"),
                        exchange=venue) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("processes", ["0", "-2"])
def test_processes_below_one_is_one_line_naming_the_flag(tmp_path, processes):
    """Found by review: `--processes 0` ran the sweep on every core (0 read as "not given") and
    a negative count ran it in one process, without a word. Refused before anything runs."""
    done = _bot("backtest", "--config", str(ROOT / "examples" / "backtest.toml"), "--no-charts",
                "--no-progress", "--to", "2018-01-11", "--out", str(tmp_path / "out"),
                "--sweep", "strategy.entry_z=1.5,2", "--processes", processes)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: --processes {processes}: expected at least 1 "
                           "process\n")
    assert not (tmp_path / "out").exists()


def test_a_volume_too_large_to_compute_with_is_one_line_naming_its_line(tmp_path):
    """An outlier price was refused in one line (found by review), an outlier volume was not:
    `1E+999999999` passed the reader, and with `strategy.min_volume` set the 24 h quote volume
    (volume x close) overflowed Decimal's range: a `decimal.Overflow` traceback, exit 1."""
    lines = LTC.read_text().splitlines(True)[:50]
    row = lines[3].rstrip("\n").split(",")
    lines[3] = ",".join([*row[:5], "1E+999999999"]) + "\n"
    (tmp_path / "ltc.csv").write_text("".join(lines))
    (tmp_path / "eth.csv").write_text("".join(ETH.read_text().splitlines(True)[:50]))
    config = tmp_path / "c.toml"
    config.write_text(
        '[bot]\ndata_dir = "d"\n[symbols]\nlist = ["ETHBTC/USDT:USDT", "LTCBTC/USDT:USDT"]\n'
        "[strategy]\nmin_volume = 1\n")
    done = _bot("backtest", "--config", str(config), "--no-charts", "--no-progress",
                "--out", str(tmp_path / "out"), "--csv", f"ETHBTC/USDT:USDT={tmp_path / 'eth.csv'}",
                "--csv", f"LTCBTC/USDT:USDT={tmp_path / 'ltc.csv'}")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"{tmp_path / 'ltc.csv'}, line 4: outlier volume 1E+999999999" in done.stderr, \
        done.stderr


@pytest.mark.parametrize("where", ["folder is a file", "cannot be opened"])
def test_a_journal_that_cannot_be_created_is_one_line_naming_journal(tmp_path, where):
    """`--journal FILE` where SQLite cannot create the database (a folder the user may not
    write, a read-only mount; here a dangling symlink into a folder that does not exist) ended
    the backtest in StorageError's traceback, and a FILE under a file in `backtest: [Errno 17]
    File exists`, naming neither the option nor the file (found by review)."""
    (tmp_path / "afile").write_text("")
    if where == "folder is a file":
        journal = tmp_path / "afile" / "j.sqlite"
    else:
        journal = tmp_path / "j.sqlite"
        journal.symlink_to(tmp_path / "gone" / "j.sqlite")
    done = _bot("backtest", "--config", str(ROOT / "examples" / "backtest.toml"), "--no-charts",
                "--no-progress", "--to", "2018-01-11", "--out", str(tmp_path / "out"),
                "--journal", str(journal))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"bot.py: error: --journal {journal}: cannot "), done.stderr
