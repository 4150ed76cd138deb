"""Leftovers of the command line and config review (real files, real `python bot.py`
subprocesses): a stream host without an API host, whitespace and empty values in the API key's
sources, and a TOML file declaring a table twice. Each problem is one line naming the key (or
file and line), never a traceback, never a secret's value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import load_settings

ROOT = Path(__file__).resolve().parents[2]
BTC = "BTC/USDT:USDT"
SECRET = "s3cr3t-value-never-shown"


def bot(config: Path, *args: str, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args, "--config", str(config)],
                          cwd=config.parent, capture_output=True, text=True, timeout=timeout,
                          env=env)


def one_error_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("bot.py: error: "), result.stderr
    return result.stderr.strip()


# -- 1: exchange.ws_url without exchange.api_url --------------------------------------------------

def live_config(tmp_path: Path, mode: str, **exchange: str) -> Path:
    lines = [f'[bot]\nmode = "{mode}"\n[exchange]\nid = "bybit"']
    lines += [f'{key} = "{value}"' for key, value in exchange.items()]
    lines.append(f'[symbols]\nlist = ["{BTC}"]\n')
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines))
    return path


@pytest.mark.parametrize("mode", ["live", "dry-run"])
def test_a_stream_host_without_an_api_host_is_refused(tmp_path, mode):
    # found by review: live signed in with the API keys at ws_url while REST went to the venue
    config = live_config(tmp_path, mode, ws_url="ws://127.0.0.1:9")
    line = one_error_line(bot(config, "status"))
    assert "config.toml:5: exchange.ws_url: is set while exchange.api_url is empty" in line
    with pytest.raises(ConfigError, match="exchange.ws_url"):
        load_settings(config)


def test_a_stream_host_with_its_api_host_and_paper_mode_are_accepted(tmp_path):
    load_settings(live_config(tmp_path, "live", api_url="http://127.0.0.1:9",
                              ws_url="ws://127.0.0.1:9"))
    load_settings(live_config(tmp_path, "paper", ws_url="ws://127.0.0.1:9"))  # paper: no venue


def test_an_accounts_stream_host_without_its_api_host_names_the_account(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[bot]\nmode = "live"\n[exchange]\nid = "bybit"\n'
                      f'[symbols]\nlist = ["{BTC}"]\n'
                      '[[accounts]]\nname = "a"\n[[accounts]]\nname = "b"\n'
                      'exchange.ws_url = "ws://127.0.0.1:9"\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert "accounts[1].exchange.ws_url: is set while accounts[1].exchange.api_url is empty" \
        in str(info.value)


# -- 6: a table declared twice ------------------------------------------------------------------

def test_a_table_declared_twice_is_one_readable_line_with_file_and_line(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\nmode = "paper"\n[symbols]\nlist = ["{BTC}"]\n'
                      '[bot]\ndata_dir = "x"\n')
    line = one_error_line(bot(config, "status"))
    assert line == (f"bot.py: error: {config}:5: TOML syntax error: table [bot] is declared "
                    "twice (line 5, column 5)")
    config.write_text(f'[symbols]\nlist = ["{BTC}"]\n[risk.x]\n[risk . "x"]\n')
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert "config.toml:4: TOML syntax error: table [risk.x] is declared twice" in str(info.value)
    assert "(" not in str(info.value).split("twice")[0]  # no Python tuple


def test_a_key_set_twice_is_one_readable_line_with_file_and_line(tmp_path):
    """A key given twice in one table ('mode' twice under [bot]) answered "unexpected
    IndexError in run: no such group": the wording for it has no key to fill in (found by
    review)."""
    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\nmode = "paper"\nmode = "paper"\n[symbols]\nlist = ["{BTC}"]\n')
    line = one_error_line(bot(config, "status"))
    assert line == (f"bot.py: error: {config}:3: TOML syntax error: a key is set twice (a value "
                    "cannot be overwritten) (line 3, column 15)")


# -- 4: whitespace in the secrets file, empty or padded key variables --------------------------

def secrets_config(tmp_path: Path, secrets: str) -> Path:
    path = tmp_path / "secrets.toml"
    path.write_text(secrets)
    os.chmod(path, 0o600)
    config = tmp_path / "config.toml"
    config.write_text(f'[exchange]\nsecrets_file = "secrets.toml"\n[symbols]\nlist = ["{BTC}"]\n')
    return config


@pytest.mark.parametrize("secrets, needle", [
    (f'api_key = "key-1\\n"\nsecret = "{SECRET}"\n', "api_key has leading or trailing whitespace"),
    (f'api_key = "key-1"\nsecret = " {SECRET}"\n', "secret has leading or trailing whitespace"),
    (f'[paper]\napi_key = "key-1"\napi_secret = "{SECRET}\\n"\n',
     "[paper] api_secret has leading or trailing whitespace"),
    (f'api_key = "key 1"\nsecret = "{SECRET}"\n', "api_key has whitespace inside"),
])
def test_a_key_or_secret_with_whitespace_in_the_secrets_file_is_refused(tmp_path, secrets, needle):
    config = secrets_config(tmp_path, secrets)
    line = one_error_line(bot(config, "status"))
    assert f"exchange.secrets_file: {tmp_path / 'secrets.toml'}: {needle}" in line, line
    assert SECRET not in line and "key-1" not in line


def test_a_clean_secrets_file_is_accepted(tmp_path):
    load_settings(secrets_config(tmp_path, f'api_key = "key-1"\nsecret = "{SECRET}"\n'))


def live_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BOT_API_KEY", "BOT_API_SECRET")}
    return {**env, **values}


@pytest.mark.parametrize("env, needle", [
    ({"BOT_API_KEY": "", "BOT_API_SECRET": SECRET},
     "exchange.api_key_env: environment variable BOT_API_KEY is set but empty"),
    ({"BOT_API_KEY": "key-1", "BOT_API_SECRET": ""},
     "exchange.api_secret_env: environment variable BOT_API_SECRET is set but empty"),
    ({"BOT_API_KEY": "key-1\n", "BOT_API_SECRET": SECRET},
     "exchange.api_key_env: environment variable BOT_API_KEY has leading or trailing whitespace"),
])
def test_live_run_names_an_empty_or_padded_key_variable(tmp_path, env, needle):
    # found by review: a variable set but empty was reported as "not set"
    config = live_config(tmp_path, "live", api_url="http://127.0.0.1:9")
    line = one_error_line(bot(config, "run", "--duration", "1", env=live_env(**env)))
    assert needle in line, line
    assert SECRET not in line and "key-1" not in line
