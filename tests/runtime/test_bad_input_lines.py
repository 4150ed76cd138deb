"""Bad input a user feeds the bot is one line naming the problem, exit code 2, no traceback
(review of the command line: cases found by running the commands)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ETH = ROOT / "examples" / "data" / "ETHBTC_USDT_USDT-5m.csv"
LTC = ROOT / "examples" / "data" / "LTCBTC_USDT_USDT-5m.csv"


def _bot(*argv: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *argv], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def _csv_config(tmp_path: Path, ltc_lines: list[str]) -> Path:
    (tmp_path / "eth.csv").write_text("".join(ETH.read_text().splitlines(True)[:50]))
    (tmp_path / "ltc.csv").write_text("\n".join(ltc_lines) + "\n")
    config = tmp_path / "c.toml"
    config.write_text(
        '[bot]\ndata_dir = "d"\n[symbols]\nlist = ["ETHBTC/USDT:USDT", "LTCBTC/USDT:USDT"]\n'
        "[dashboard]\nenabled = false\n[logging]\nconsole = false\n"
        '[paper]\nprice_source = "csv"\n'
        'csv_files = { "ETHBTC/USDT:USDT" = "eth.csv", "LTCBTC/USDT:USDT" = "ltc.csv" }\n')
    return config


def test_a_bad_row_in_a_paper_csv_file_is_a_startup_line_not_an_unexpected_crash(tmp_path):
    """A paper run on csv_files with a malformed row said `unexpected ValueError in run: ...
    (traceback in .../bot.log)`, as for a bug; it is the user's file: one line naming the
    setting, the file and the line."""
    lines = LTC.read_text().splitlines()[:50]
    lines[19] = "1515565000000,abc,1,1,1,1"
    config = _csv_config(tmp_path, lines)
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("bot.py: error: paper.csv_files: "), done.stderr
    assert f"{tmp_path / 'ltc.csv'}, line 20: not a number" in done.stderr
    assert "unexpected" not in done.stderr and "Traceback" not in done.stderr


def test_a_paper_csv_file_out_of_time_order_names_the_line(tmp_path):
    """Unsorted or repeated timestamps were replayed in file order, and the 24 h volumes (a
    bisection of the timestamps) came out wrong; the backtest refuses such a file. Now the
    paper run does too, naming the file and line."""
    lines = LTC.read_text().splitlines()[:50]
    lines[30] = lines[29]  # the same timestamp twice
    config = _csv_config(tmp_path, lines)
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"paper.csv_files: {tmp_path / 'ltc.csv'}, line 31: timestamp" in done.stderr
    assert "is not after the previous row's" in done.stderr


def test_a_paper_csv_file_that_is_not_utf8_names_the_file(tmp_path):
    lines = LTC.read_text().splitlines()[:50]
    config = _csv_config(tmp_path, lines)
    with (tmp_path / "ltc.csv").open("ab") as handle:
        handle.write(b"\xff\xfe\n")
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert f"paper.csv_files: {tmp_path / 'ltc.csv'}: not valid UTF-8" in done.stderr
    assert "unexpected" not in done.stderr


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


@pytest.mark.parametrize("setting", ['[paper]\nstore = "bot.sqlite"\n',
                                     '[storage]\npath = "./paper_exchange.sqlite"\n'])
def test_a_paper_store_on_the_bots_own_database_is_a_config_line(tmp_path, setting):
    """paper.store and storage.path naming one file (a copy-paste slip) started the bot, which
    wrote the paper exchange's tables into its own database and then stopped with `unexpected
    RuntimeError in run: .../bot.sqlite: unsupported schema 4`. Refused at load, nothing made."""
    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      "[dashboard]\nenabled = false\n" + setting)
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert (f"paper.store: the same file as storage.path ({tmp_path / 'd'}/"
            in done.stderr), done.stderr
    assert "unexpected" not in done.stderr and not (tmp_path / "d").exists()


def test_a_paper_store_of_another_schema_is_a_startup_line(tmp_path):
    """A paper store written by another version stopped the start with `unexpected
    RuntimeError in run: ...: unsupported schema 9` (traceback in bot.log), as for a bug."""
    import sqlite3
    from decimal import Decimal

    from exchange.paper.store import Store

    (tmp_path / "d").mkdir(mode=0o700)
    store = Store(tmp_path / "d" / "paper_exchange.sqlite", "USDT")
    store.initialise(1_700_000_000_000, Decimal(10_000))
    store.close()
    con = sqlite3.connect(tmp_path / "d" / "paper_exchange.sqlite")
    with con:
        con.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    con.close()
    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      "[dashboard]\nenabled = false\n[logging]\nconsole = false\n")
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "paper_exchange.sqlite: paper exchange store of schema 9" in done.stderr
    assert "unexpected" not in done.stderr


def test_a_paper_store_whose_creation_time_is_not_a_number_is_a_startup_line(tmp_path):
    """A paper store whose meta created_ms is not a whole number (a damaged file, an edit by
    hand) stopped the start with `unexpected ValueError in run: invalid literal for int()`,
    naming no file; the bot and the paper server now say which file in one line."""
    import sqlite3

    (tmp_path / "d").mkdir(mode=0o700)
    store = tmp_path / "d" / "paper_exchange.sqlite"
    with sqlite3.connect(store) as con:
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        con.execute("INSERT INTO meta VALUES ('created_ms', 'yesterday')")
    con.close()
    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      "[dashboard]\nenabled = false\n[logging]\nconsole = false\n")
    line = (f"{store}: paper exchange store whose creation time (meta created_ms) is not a "
            "whole number: 'yesterday' (a damaged file? move it aside to start a fresh paper "
            "account)\n")
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"bot.py: error: {line}"
    server = subprocess.run([sys.executable, "-m", "exchange.paper_server", "--port", "1",
                             "--store", str(store)], cwd=ROOT, capture_output=True, text=True,
                            timeout=60, env={"PAPER_SERVER_API_KEY": "k",
                                             "PAPER_SERVER_API_SECRET": "s", "PATH": ""})
    assert server.returncode == 2 and server.stderr == f"paper server: {line}", server.stderr


@pytest.mark.parametrize("extra, needle", [
    (["--api-url", "notaurl"], "--api-url: expected http(s)://host[:port]"),
    (["--api-url", "http://me:hunter2@127.0.0.1:9"], "--api-url: expected http(s)://host[:port]"),
    (["--data", "README.md"], "--data README.md: not a folder"),
])
def test_a_download_option_that_cannot_work_is_named(tmp_path, extra, needle):
    """`download --api-url notaurl` ended in `download: ExchangeError: bybit sign() has no API
    URL for self endpoint`, `--data FILE` in `download: [Errno 17] File exists: 'FILE'`. Both
    are refused up front naming the option, before any request."""
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


def test_a_config_saved_with_a_byte_order_mark_is_read(tmp_path):
    """A config.toml saved as "UTF-8 with BOM" (Windows editors) was refused with `TOML syntax
    error: Invalid statement (line 1, column 1)` on a line that looks right. The mark is
    skipped (as in candle files); the lines of the problems stay right."""
    config = tmp_path / "c.toml"
    config.write_bytes(b'\xef\xbb\xbf[risk]\nleverage = 500\n[symbols]\nlist = ["BTC/USDT:USDT"]\n')
    done = _bot("status", "--config", str(config))
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: {config}:2: risk.leverage: must be >= 1 and <= 125 "
                           "(got 500)\n")


def test_a_paper_csv_file_with_prices_out_of_range_is_a_startup_line(tmp_path):
    """Paper mode on a file of prices like 1e-30 (the backtest refuses them as outliers) ended
    in `unexpected InvalidOperation in run: [<class 'decimal.InvalidOperation'>]` when the
    paper market's steps were derived. Refused like a bad row, naming the file and line."""
    rows = ["timestamp,open,high,low,close,volume"] + [
        f"{1515560100000 + i * 300_000},1e-30,2e-30,0.5e-30,1.5e-30,100" for i in range(40)]
    config = _csv_config(tmp_path, rows)
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    needle = f"{tmp_path / 'ltc.csv'}, line 2: first open 1E-30 is outside 1e-20 .. 1e+20\n"
    assert done.stderr == f"bot.py: error: paper.csv_files: {needle}"
    # the backtest's line for the same file named inverted bounds ("1.000e-20 .. 1.000e-21")
    done = _bot("backtest", "--config", str(config), "--no-charts", "--no-progress")
    assert (done.returncode, done.stderr) == (2, f"bot.py: error: {needle}")


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


def test_a_secrets_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    """As the config: a secrets file saved as "UTF-8 with BOM" was `TOML syntax error: Invalid
    statement (line 1, column 1)` at load and `not valid TOML` when the keys were read."""
    from exchange.ccxt.secrets import load_from_file

    secrets = tmp_path / "secrets.toml"
    secrets.write_bytes(b'\xef\xbb\xbfapi_key = "k1"\nsecret = "s1"\n')
    secrets.chmod(0o600)
    config = tmp_path / "c.toml"
    config.write_text('[bot]\nmode = "live"\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      '[exchange]\nid = "bybit"\nsecrets_file = "secrets.toml"\n')
    done = _bot("status", "--config", str(config))
    assert done.stderr == f"bot.py: error: no status yet in {tmp_path / 'd'} (has the bot run " \
                          "with this data dir?)\n"
    credentials = load_from_file(secrets)
    assert (credentials.api_key, credentials.secret) == ("k1", "s1")


def test_a_token_file_that_is_not_utf8_is_a_config_line_and_a_bom_is_not_part_of_it(tmp_path):
    """dashboard.token_file (and telegram's) holding bytes that are not UTF-8 stopped the start
    with `unexpected UnicodeDecodeError in run`; a byte-order mark became part of the token,
    so no request's token ever matched. One line naming the key; the mark is skipped."""
    from notifications.secret import read_token

    token = tmp_path / "tok"
    token.write_bytes(b"\xef\xbb\xbfs3cret-token\n")
    token.chmod(0o600)
    assert read_token(key="dashboard.token_file", env_name="", file="tok",
                      base=tmp_path) == "s3cret-token"
    token.write_bytes(b"\xff\xfetoken\n")
    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      '[dashboard]\nport = 0\ntoken_file = "tok"\n[logging]\nconsole = false\n')
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: dashboard.token_file: {token} is not UTF-8 text "
                           "(byte offset 0)\n")


def test_an_alert_command_whose_program_does_not_exist_stops_the_start(tmp_path):
    """supervision.alert_command naming a program that is not there started silently; the
    first alert (an escalation, the kill switch) was then a WARNING that it had not been
    delivered. Refused at start in one line, without the command's arguments."""
    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      "[dashboard]\nenabled = false\n[logging]\nconsole = false\n"
                      f"[supervision]\nalert_command = '{tmp_path}/no-such-notify --key s3cr3t'\n")
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: supervision.alert_command: program "
                           f"'{tmp_path}/no-such-notify' not found or not executable (a path, "
                           "or a name on $PATH); alerts could not be delivered\n")
    assert not (tmp_path / "d" / "bot.sqlite").exists()


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


def test_a_paper_store_position_of_a_symbol_without_a_csv_file_is_a_startup_line(tmp_path):
    """Paper mode on csv_files: LTC is held in the paper store, then taken out of symbols.list
    and csv_files. The start ended in `unexpected KeyError in run: 'CsvPriceSource has no data
    for LTCBTC/USDT:USDT'`. Now one line naming the store, the symbol and what to do."""
    from decimal import Decimal

    from exchange.paper.csv_prices import CsvPriceSource
    from exchange.paper.exchange import PaperExchange

    config = _csv_config(tmp_path, LTC.read_text().splitlines()[:50])
    (tmp_path / "d").mkdir(mode=0o700)
    store = tmp_path / "d" / "paper_exchange.sqlite"
    source = CsvPriceSource(files={"ETHBTC/USDT:USDT": tmp_path / "eth.csv",
                                   "LTCBTC/USDT:USDT": tmp_path / "ltc.csv"},
                            step_ms=250, epoch_ms=1_700_000_000_000)
    paper = PaperExchange(store_path=store, symbols=["ETHBTC/USDT:USDT", "LTCBTC/USDT:USDT"],
                          price_source=source)
    try:
        paper.create_order("LTCBTC/USDT:USDT", "market", "buy", Decimal(1000))
    finally:
        paper.close()
    text = config.read_text().replace(', "LTCBTC/USDT:USDT"]', "]")
    config.write_text(text.replace(', "LTCBTC/USDT:USDT" = "ltc.csv"', ""))
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: paper.csv_files: {store} holds an open position or "
                           "order of LTCBTC/USDT:USDT, which has no candle file; add it back to "
                           "symbols.list and paper.csv_files so the bot can manage it (or move "
                           "the paper store aside to start a fresh paper account)\n")


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


def test_the_signal_endpoint_on_the_dashboards_port_is_a_config_line(tmp_path):
    """signals.port equal to dashboard.port: the start said `signals.port: cannot listen on
    127.0.0.1:18790 ([Errno 98] Address already in use)`, as if another program held it."""
    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      "[dashboard]\nport = 18790\n[signals]\nenabled = true\nport = 18790\n")
    done = _bot("status", "--config", str(config))
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: {config}:9: signals.port: is dashboard.port too "
                           "(18790): the signal endpoint and the dashboard need a port each\n")


@pytest.mark.parametrize("empty", ["api_key_env", "api_secret_env"])
def test_live_mode_without_any_key_source_is_refused_at_start(tmp_path, empty):
    """Live mode with exchange.api_key_env (or api_secret_env) = "" and no secrets_file
    started without a key: every private call failed ('bybit requires "apiKey" credential'),
    reconciliation retried for ever, the exit code was 0. Refused at start in one line."""
    config = tmp_path / "c.toml"
    config.write_text('[bot]\nmode = "live"\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      f'[exchange]\nid = "bybit"\n{empty} = ""\napi_url = "http://127.0.0.1:1"\n'
                      "[dashboard]\nenabled = false\n[logging]\nconsole = false\n")
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: exchange.{empty}: empty, and no exchange."
                           "secrets_file: live trading needs the API key and secret (name both "
                           "environment variables, or give a secrets file)\n")


def test_a_config_path_with_a_tilde_no_shell_expanded_is_read(tmp_path):
    """`--config=~/bot.toml` (the shell expands no ~ after `=`) was `~/bot.toml: file not
    found`, while the paths inside the config were already resolved with ~ expanded; a sweep
    re-read the config by the same path."""
    import os

    (tmp_path / "cfg").mkdir()
    config = (ROOT / "examples" / "backtest.toml").read_text()
    (tmp_path / "cfg" / "bt.toml").write_text(config.replace(
        'data_dir = "../data/backtest_example"', 'data_dir = "d"').replace(
        '"data/', f'"{ROOT}/examples/data/'))
    env = {**os.environ, "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "status",
                           "--config=~/cfg/bt.toml"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    assert done.stderr == (f"bot.py: error: no status yet in {tmp_path / 'cfg' / 'd'} (has the "
                           "bot run with this data dir?)\n")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "backtest", "--config=~/cfg/bt.toml", "--no-charts",
         "--no-progress", "--to", "2018-01-12", "--sweep", "strategy.window=20,30"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cfg" / "d" / "backtest" / "ranking.json").exists()


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


def test_a_csv_file_setting_naming_a_folder_says_so(tmp_path):
    """paper.csv_files naming a folder said `file not found: <the folder>`, which exists."""
    (tmp_path / "eth.csv").mkdir()
    config = tmp_path / "c.toml"
    config.write_text('[symbols]\nlist = ["ETHBTC/USDT:USDT"]\n[paper]\nprice_source = "csv"\n'
                      'csv_files = { "ETHBTC/USDT:USDT" = "eth.csv" }\n')
    done = _bot("status", "--config", str(config))
    assert done.stderr == (f'bot.py: error: {config}:5: paper.csv_files["ETHBTC/USDT:USDT"]: '
                           f"not a file: {tmp_path / 'eth.csv'}\n")


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
    from backtest.candles import DataError

    with pytest.raises(DataError, match="run two's data is bad"):
        run_all(runs, _fails_on_run_two, processes=2)
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


def test_a_paper_store_with_an_unreadable_value_is_a_startup_line(tmp_path):
    """A paper store whose schema_version is not a number, or whose wallet is not one, stopped
    the start with 'unexpected ValueError' / 'unexpected InvalidOperation', naming no file."""
    import sqlite3

    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      "[dashboard]\nenabled = false\n[logging]\nconsole = false\n")
    first = _bot("--config", str(config), "--duration", "1")  # a real store, then damaged
    assert first.returncode == 0, first.stderr
    store = tmp_path / "d" / "paper_exchange.sqlite"
    for table, column, value, shown in (("balance", "wallet", "lots", "InvalidOperation"),
                                        ("meta", "value", "four", "schema four")):
        with sqlite3.connect(store) as con:
            backup = con.execute(f"SELECT {column} FROM {table}").fetchall()
            where = " WHERE key = 'schema_version'" if table == "meta" else ""
            con.execute(f"UPDATE {table} SET {column} = ?{where}", (value,))
        con.close()
        done = _bot("--config", str(config), "--duration", "1")
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and str(store) in done.stderr, done.stderr
        assert shown in done.stderr and "unexpected" not in done.stderr, done.stderr
        with sqlite3.connect(store) as con:
            if table == "balance":
                con.execute("UPDATE balance SET wallet = ?", backup[0])
        con.close()
