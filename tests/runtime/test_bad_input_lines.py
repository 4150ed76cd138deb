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


def test_a_paper_csv_file_with_a_volume_too_large_to_compute_with_is_a_startup_line(tmp_path):
    """A volume like 1E+999999999 passed paper mode's reader, and the 24 h quote volume (volume
    x close) overflowed Decimal's range when the price source was built: a decimal.Overflow
    traceback at start (the backtest's sibling was fixed first). Refused, naming the line."""
    rows = ["timestamp,open,high,low,close,volume"] + [
        f"{1515560100000 + i * 300_000},0.017,0.018,0.016,0.0175,"
        f"{'1E+999999999' if i == 3 else '100'}" for i in range(40)]
    config = _csv_config(tmp_path, rows)
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: paper.csv_files: {tmp_path / 'ltc.csv'}, line 5: "
                           "outlier volume 1E+999999999: volumes must be at most 1e+30\n")


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
    assert done.stderr == (f"bot.py: error: {config}:7: dashboard.token_file: {token} is not "
                           "UTF-8 text "
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
    assert done.stderr == (f"bot.py: error: {config}:10: supervision.alert_command: program "
                           f"'{tmp_path}/no-such-notify' not found or not executable (a path, "
                           "or a name on $PATH); alerts could not be delivered\n")
    assert not (tmp_path / "d" / "bot.sqlite").exists()


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


def test_a_csv_file_setting_naming_a_folder_says_so(tmp_path):
    """paper.csv_files naming a folder said `file not found: <the folder>`, which exists."""
    (tmp_path / "eth.csv").mkdir()
    config = tmp_path / "c.toml"
    config.write_text('[symbols]\nlist = ["ETHBTC/USDT:USDT"]\n[paper]\nprice_source = "csv"\n'
                      'csv_files = { "ETHBTC/USDT:USDT" = "eth.csv" }\n')
    done = _bot("status", "--config", str(config))
    assert done.stderr == (f'bot.py: error: {config}:5: paper.csv_files["ETHBTC/USDT:USDT"]: '
                           f"not a file: {tmp_path / 'eth.csv'}\n")


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
    for table, column, value, shown in (("balance", "wallet", "lots",
                                         "balance USDT: wallet 'lots' is not a number"),
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


def test_a_symbol_whose_order_ids_cannot_fit_is_refused_at_startup(tmp_path):
    """A symbol whose client order ids would pass the venues' 36 characters with this account
    name was refused only when its actor built its rules: the bot started, that actor failed at
    every spawn and restart ("actor failed in spawn: ValueError: ... would be longer than 36
    characters") and the status showed it as still restoring. Now the start is refused, in one
    line naming the symbol (found by review of the dashboard with a long symbol name)."""
    long = "AVERYLONGTOKENNAMETHATGOESONANDON/USDT:USDT"
    config = tmp_path / "c.toml"
    config.write_text(
        f'[bot]\ndata_dir = "d"\n[symbols]\nlist = ["BTC/USDT:USDT", "{long}"]\n'
        "[dashboard]\nenabled = false\n[logging]\nconsole = false\n")
    done = _bot("--config", str(config), "--duration", "5")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("bot.py: error: "), done.stderr
    assert f"symbols.list: {long}: its client order ids" in done.stderr, done.stderr
    assert "would be longer than 36 characters" in done.stderr
    assert "Traceback" not in done.stderr
