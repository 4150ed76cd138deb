"""load_settings: the shipped file loads; every kind of problem is a one-line ConfigError."""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pydantic
import pytest

from config import ConfigError, Settings, load_settings
from tests.config.refusals import unlined

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.toml"
ONE_SYMBOL = '[symbols]\nlist = ["BTC/USDT:USDT"]\n'


def write_config(tmp_path: Path, text: str, with_symbols: bool = True) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text + ("\n" + ONE_SYMBOL if with_symbols else ""))
    return path


def config_error(tmp_path: Path, text: str, with_symbols: bool = True) -> str:
    path = write_config(tmp_path, text, with_symbols)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message
    assert re.match(rf"{re.escape(str(path))}(:\d+)?: ", message)
    message = unlined(message)
    return message


def test_shipped_config_loads_with_the_documented_defaults():
    settings = load_settings(REPO_CONFIG)
    assert settings.bot.mode == "paper"
    assert settings.exchange.id == "paper"
    assert len(settings.symbols.list) == 8
    assert all(s.endswith("/USDT:USDT") for s in settings.symbols.list)
    assert settings.strategy.window == 40 and settings.exchange.poll_interval_s == 0.5
    assert settings.risk.order_size_usdt == Decimal("100")
    assert settings.paper.taker_fee == Decimal("0.00055")
    assert settings.risk.take_profit_pct is None
    # The shipped file repeats the defaults: it must equal a config that only lists the symbols.
    defaults = Settings.model_validate({"symbols": {"list": list(settings.symbols.list)}})
    assert settings.model_dump() == defaults.model_dump()


def test_paths_resolve_against_config_folder_and_data_dir(tmp_path: Path):
    settings = load_settings(write_config(tmp_path, '[storage]\npath = "db/x.sqlite"'))
    assert settings.data_dir_path() == tmp_path / "data"
    assert settings.resolve(settings.storage.path) == tmp_path / "data" / "db" / "x.sqlite"
    assert settings.resolve("/abs/file") == Path("/abs/file")
    assert settings.data_dir_path(str(tmp_path / "other")) == tmp_path / "other"
    overridden = load_settings(tmp_path / "config.toml", data_dir_override=tmp_path / "elsewhere")
    assert overridden.data_dir_path() == tmp_path / "elsewhere"


def test_settings_are_frozen(tmp_path: Path):
    settings = load_settings(write_config(tmp_path, ""))
    with pytest.raises(pydantic.ValidationError):
        settings.risk.leverage = 10  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        settings.bot = settings.bot  # type: ignore[misc]


def test_values_are_typed_and_normalised(tmp_path: Path):
    text = '[logging]\nlevel = "debug"\n[risk]\ntake_profit_pct = 2.5\nstop_loss_pct = 3'
    settings = load_settings(write_config(tmp_path, text))
    assert settings.logging.level == "DEBUG"
    assert settings.risk.take_profit_pct == Decimal("2.5")
    assert settings.risk.stop_loss_pct == Decimal(3)
    assert isinstance(settings.supervision.backoff_max_s, float)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stop_loss_pct = 1", "stop_loss_pct: unknown key (allowed: bot, exchange, symbols,"),
        (
            "[risk]\nstop_los_pct = 1",
            "risk.stop_los_pct: unknown key (allowed: order_size_usdt, leverage,",
        ),
        ('[paper]\nlatency_ms = "fast"', 'paper.latency_ms: expected an integer (got "fast")'),
        ('[paper]\nspeed = "fast"', 'paper.speed: expected a number (got "fast")'),
        ("[exchange]\nsandbox = 1", "exchange.sandbox: expected true or false (got 1)"),
        ("[risk]\nleverage = 2.5", "risk.leverage: expected an integer (got 2.5)"),
        ("risk = 5", "risk: expected a table (got 5)"),
        ("[risk]\nstop_loss_pct = -1", "risk.stop_loss_pct: must be > 0 and <= 50 (got -1)"),
        ("[risk]\nleverage = 200", "risk.leverage: must be >= 1 and <= 125 (got 200)"),
        (
            "[bot]\nstatus_interval_s = 0.01",
            "bot.status_interval_s: must be >= 0.1 and <= 60 (got 0.01)",
        ),
        (
            "[bot]\nswitch_interval_ms = 0",
            "bot.switch_interval_ms: must be >= 0.05 and <= 100 (got 0.0)",
        ),
        ("[risk]\ntake_profit_pct = 0", "risk.take_profit_pct: must be > 0 and < 100 (got 0)"),
        (
            '[bot]\nmode = "papr"',
            'bot.mode: must be one of "paper", "live", "dry-run" (got "papr")',
        ),
        ('[storage]\nsynchronous = "off"', 'storage.synchronous: must be one of "full", "normal"'),
        ('[logging]\nlevel = "loud"', "logging.level: must be one of"),
        (
            '[strategy]\nname = "momentum"',
            'strategy.name: must be one of "hedge_grid", "mean_reversion" (got "momentum")',
        ),
        (
            '[bot]\naccount = "Main!"',
            'bot.account: must be 1..12 characters of a-z, 0-9, _ (got "Main!")',
        ),
        ('[exchange]\nid = "bybitt"', 'exchange.id: must be "paper" or a ccxt exchange id'),
        # refused at load, before the live checks of its other settings (poll interval, budget)
        ('[bot]\nmode = "live"\n[exchange]\nid = "binance"\npoll_interval_s = 0.1',
         'exchange.id: must be "binanceusdm" for this venue\'s linear perpetuals (got "binance")'),
        ("[strategy]\nexit_z = 2.5", "strategy.exit_z: must be < strategy.entry_z (2.0) (got 2.5)"),
        (
            "[supervision]\nheartbeat_timeout_s = 1.0",
            "supervision.heartbeat_timeout_s: must be > supervision.",
        ),
        (
            "[supervision]\nbackoff_max_s = 0.1",
            "supervision.backoff_max_s: must be >= supervision.backoff_in",
        ),
        (
            '[bot]\nmode = "live"',
            'exchange.id: must be a real ccxt exchange id when bot.mode = "live"',
        ),
        ('[paper]\nprice_source = "csv"', "paper.csv_files: must list a file per symbol"),
        ('[strategy]\nname = "hedge_grid"',
         "exchange.hedge_mode: must be true when strategy.name = \"hedge_grid\""),
        ("[exchange]\nhedge_mode = true",
         'exchange.hedge_mode: is only supported with strategy.name = "hedge_grid"'),
        ('[exchange]\nhedge_mode = true\n[strategy]\nname = "hedge_grid"\n'
         '[strategy.grid]\nlevels = 4\nstep_pct = 1.5',
         "risk.stop_loss_pct: must be > 6.1364 for the hedge grid"),
        ('[exchange]\nhedge_mode = true\nstop_mode = "bot"\n[strategy]\nname = "hedge_grid"\n'
         '[risk]\nstop_loss_pct = 8',
         'exchange.stop_mode: must be "exchange" when strategy.name = "hedge_grid"'),
        ("[strategy.grid]\nstep_pct = 2\nrecalc_pct = 1",
         "strategy.grid.recalc_pct: must be > strategy.grid.step_pct (2)"),
        ("[strategy.grid]\nlevels = -1", "strategy.grid.levels: must be >= 0 and <= 50 (got -1)"),
        ("[risk]\nstop_loss_pct = nan", "risk.stop_loss_pct: expected a finite number (got nan)"),
    ],
)
def test_each_problem_names_the_dotted_key(tmp_path: Path, text: str, expected: str):
    assert expected in config_error(tmp_path, text)


@pytest.mark.parametrize(
    ("symbols", "expected"),
    [
        ('["BTC/USDT:USDT", "ETH/USDT"]', 'symbols.list[1]: must be a ccxt linear perpetual'),
        ('["BTC/USDT:USDT", "ETH/USD:ETH"]', 'symbols.list[1]: must be a ccxt linear perpetual'),
        ('["BTC/USDT:USDT", 5]', "symbols.list[1]: expected a string (got 5)"),
        ('["BTC/USDT:USDT", "BTC/USDT:USDT"]', "symbols.list[1]: duplicate of symbols.list[0]"),
        ("[]", "symbols.list: must have 1..5000 entries (got 0)"),
        ('"BTC/USDT:USDT"', 'symbols.list: expected an array (got "BTC/USDT:USDT")'),
    ],
)
def test_bad_symbols_name_their_index(tmp_path: Path, symbols: str, expected: str):
    assert expected in config_error(tmp_path, f"[symbols]\nlist = {symbols}", with_symbols=False)


def test_missing_symbols_section_and_key(tmp_path: Path):
    assert "symbols: required section is missing" in config_error(tmp_path, "", with_symbols=False)
    assert "symbols.list: required key is missing" in config_error(
        tmp_path, "[symbols]\n", with_symbols=False
    )


def test_several_problems_are_reported_on_one_line(tmp_path: Path):
    path = write_config(tmp_path, "[risk]\nleverage = 0\nstop_loss_pct = 99")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert "risk.leverage: must be >= 1" in str(info.value)
    assert "(and 1 more: risk.stop_loss_pct)" in str(info.value)
    assert len(info.value.problems) == 2


def test_the_more_problems_are_named_by_their_whole_key(tmp_path: Path):
    # found by review: the others were cut at their first ":", the one inside the symbol
    # (`(and 1 more: paper.csv_files["ETH/USDT)`)
    text = ('[symbols]\nlist = ["BTC/USDT:USDT", "ETH/USDT:USDT"]\n[paper]\nprice_source = "csv"\n'
            'csv_files = {"BTC/USDT:USDT" = "btc.csv", "ETH/USDT:USDT" = "eth.csv"}')
    message = config_error(tmp_path, text, with_symbols=False)
    assert message.endswith('(and 1 more: paper.csv_files["ETH/USDT:USDT"])')


def test_missing_file_and_toml_syntax_error(tmp_path: Path):
    with pytest.raises(ConfigError, match=r"nope\.toml: file not found$"):
        load_settings(tmp_path / "nope.toml")
    message = config_error(tmp_path, "[risk]\nleverage = = 5\n", with_symbols=False)
    assert "TOML syntax error" in message and "line 2" in message


def test_csv_price_source_needs_existing_files_for_every_symbol(tmp_path: Path):
    csv = '[paper]\nprice_source = "csv"\ncsv_files = {"BTC/USDT:USDT" = "btc.csv"}'
    assert 'paper.csv_files["BTC/USDT:USDT"]: file not found' in config_error(tmp_path, csv)
    (tmp_path / "btc.csv").write_text("ts,price\n")
    settings = load_settings(tmp_path / "config.toml")
    btc_csv = settings.paper.csv_files["BTC/USDT:USDT"]
    assert settings.resolve_config_path(btc_csv) == tmp_path / "btc.csv"
    two = '[symbols]\nlist = ["BTC/USDT:USDT", "ETH/USDT:USDT"]\n' + csv
    message = config_error(tmp_path, two, with_symbols=False)
    assert 'paper.csv_files: missing an entry for "ETH/USDT:USDT"' in message


def test_secrets_file_must_be_private_toml(tmp_path: Path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('api_key = "key-123"\nsecret = "very-secret"\n')
    os.chmod(secrets, 0o644)
    message = config_error(tmp_path, '[exchange]\nsecrets_file = "secrets.toml"')
    assert f"exchange.secrets_file: {secrets} has mode 0644; must be 0600" in message
    os.chmod(secrets, 0o600)
    settings = load_settings(tmp_path / "config.toml")
    assert settings.secrets_path() == secrets
    assert "very-secret" not in repr(settings)
    secrets.write_text('api_key = "very-secret\n')  # broken TOML: the value is not echoed
    message = config_error(tmp_path, '[exchange]\nsecrets_file = "secrets.toml"')
    assert "exchange.secrets_file:" in message and "TOML syntax error" in message
    assert "very-secret" not in message
    missing = config_error(tmp_path, '[exchange]\nsecrets_file = "nope.toml"')
    assert f"exchange.secrets_file: file not found: {tmp_path / 'nope.toml'}" in missing
    assert load_settings(write_config(tmp_path, "")).secrets_path() is None


@pytest.mark.parametrize(("text", "home"), [
    ('mode = "live"', "mode is a key of [bot]"),  # above the first table
    ('[risk]\nmode = "live"', "mode is a key of [bot]"),
    ("[strategy]\nmax_open_positions = 3", "max_open_positions is a key of [risk], [signals]"),
    ("[risk]\nenabled = true", "enabled is a key of [signals], [dashboard], [telegram], [cluster]"),
    ("[strategy]\nrisk = { leverage = 3 }", "risk is a section of its own: give it before the "
     "first table or as [risk] (a key after [strategy] belongs to [strategy])"),
])
def test_a_key_in_the_wrong_section_names_its_section(tmp_path: Path, text: str, home: str):
    # found by review: a key given under the wrong table (or above the first one) was only
    # "unknown key (allowed: ...)", the list of the wrong section's keys
    message = config_error(tmp_path, text)
    assert message.count("unknown key") == 1 and message.endswith(f"); {home}")


def test_a_misspelling_is_still_named_first(tmp_path: Path):
    assert config_error(tmp_path, "[risk]\nstop_los_pct = 1").endswith(
        "; did you mean stop_loss_pct?")
