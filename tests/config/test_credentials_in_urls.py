"""A credential written into a URL (or a table where a string belongs) is refused in one line
naming the key, and the line never repeats it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config import load_settings
from tests.config.refusals import refused, unlined

ROOT = Path(__file__).resolve().parents[2]
ONE_SYMBOL = '[symbols]\nlist = ["BTC/USDT:USDT"]\n'
PASSWORD = "PROXY-PASSWORD-123"
USERINFO = ("must not hold a user name or password: it would show in every exchange error and "
            "log line")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(ONE_SYMBOL + text)
    return path


def status(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), "status", "--config", str(path)],
                          cwd=path.parent, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("key", "url"), [
    ("api_url", f"http://proxyuser:{PASSWORD}@127.0.0.1:1"),
    ("api_url", f"https://{PASSWORD}@api.bybit.com"),
    ("ws_url", f"wss://proxyuser:{PASSWORD}@127.0.0.1:2"),
])
def test_exchange_urls_refuse_a_user_and_password(tmp_path: Path, key: str, url: str):
    path = write(tmp_path, f'[exchange]\nid = "bybit"\n{key} = "{url}"\n')
    assert refused(path) == f"{path}: exchange.{key}: {USERINFO}"
    account = write(tmp_path, f'[[accounts]]\nname = "a"\nexchange.{key} = "{url}"\n')
    assert refused(account) == f"{account}: accounts[0].exchange.{key}: {USERINFO}"


def test_bot_status_refuses_an_api_url_with_a_password_in_one_line(tmp_path: Path):
    path = write(tmp_path, '[bot]\nmode = "live"\n[exchange]\nid = "bybit"\n'
                           f'api_url = "http://proxyuser:{PASSWORD}@127.0.0.1:1"\n')
    result = status(path)
    assert result.returncode == 2 and PASSWORD not in result.stderr + result.stdout
    assert unlined(result.stderr) == f"bot.py: error: {path}: exchange.api_url: {USERINFO}\n"


def test_a_malformed_storage_url_is_refused_without_its_password(tmp_path: Path):
    url = "postgresql://bot:Hunter2-DB-PASSWORD@[fd00::5/bot"
    path = write(tmp_path, f'[storage]\nurl = "{url}"\n')
    line = ('storage.url: not a valid URL; must be a postgresql://user@host:port/db URL or ""')
    assert refused(path) == f"{path}: {line}"
    result = status(path)
    assert result.returncode == 2 and "Hunter2" not in result.stderr + result.stdout
    assert unlined(result.stderr) == f"bot.py: error: {path}: {line}\n"


def test_a_table_given_for_a_string_is_not_repeated(tmp_path: Path):
    path = write(tmp_path, '[exchange]\napi_key_env = { key = "sk-live-0123456789" }\n')
    assert refused(path) == f"{path}: exchange.api_key_env: expected a string"
    scalar = write(tmp_path, "[exchange]\napi_key_env = 5\n")
    assert refused(scalar) == f"{scalar}: exchange.api_key_env: expected a string (got 5)"


@pytest.mark.parametrize(("section", "key", "url"), [
    ("telegram", "api_url", f"https://relay:{PASSWORD}@tg-proxy.example/"),
    ("signals", "websocket_url", f"wss://feed:{PASSWORD}@signals.example/ws"),
])
def test_service_urls_refuse_a_user_and_password(tmp_path: Path, section: str, key: str,
                                                 url: str):
    path = write(tmp_path, f'[{section}]\n{key} = "{url}"\n')
    message = refused(path)
    assert message == (f"{path}: {section}.{key}: must not hold a user name or password: the URL "
                       "shows in connection errors and log lines")
    assert PASSWORD not in message
    plain = url.split("://")[0] + "://" + url.split("@", 1)[1]  # the same URL, no credentials
    settings = load_settings(write(tmp_path, f'[{section}]\n{key} = "{plain}"\n'))
    assert getattr(getattr(settings, section), key) == plain


def test_an_at_sign_after_the_host_is_not_a_user_name(tmp_path: Path):
    url = "wss://feed.example.com?user=ops@example.com"  # in the query, not the authority
    settings = load_settings(write(tmp_path, f'[signals]\nwebsocket_url = "{url}"\n'))
    assert settings.signals.websocket_url == url


@pytest.mark.parametrize("url", [
    "postgresql://bot:Hunter2-DB-PASSWORD@[fd00::5/bot",  # libpq quotes the whole URI back
    "postgresql://bot:Hunter2-DB-PASSWORD@127.0.0.1:1/bot",
])
def test_the_cluster_database_url_is_checked_like_the_storage_url(tmp_path: Path, url: str):
    """cluster.database_url is a PostgreSQL URL like storage.url: a password in it (which a
    malformed URL's connection error quoted back whole, on `bot.py cluster` and at a node's
    start) is refused at load, in one line that never repeats it."""
    path = write(tmp_path, f'[cluster]\nenabled = true\ndatabase_url = "{url}"\n')
    message = refused(path)
    assert "Hunter2" not in message
    assert message.startswith(f"{path}: cluster.database_url: ")
    result = subprocess.run([sys.executable, str(ROOT / "bot.py"), "cluster", "--config",
                             str(path)], cwd=path.parent, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "Hunter2" not in result.stderr + result.stdout
    assert unlined(result.stderr) == f"bot.py: error: {message}\n"
    bad_scheme = write(tmp_path, '[cluster]\ndatabase_url = "mysql://bot@db/bot"\n')
    assert refused(bad_scheme) == (f"{bad_scheme}: cluster.database_url: must be a "
                                   'postgresql://user@host:port/db URL or "" (got scheme '
                                   "'mysql')")


TELEGRAM_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
NOT_A_NAME = ("must be the name of an environment variable (letters, digits and _, not starting "
              "with a digit), not the secret itself; the value is not shown")


@pytest.mark.parametrize(("section", "key"), [
    ("exchange", "api_key_env"), ("exchange", "api_secret_env"), ("signals", "token_env"),
    ("signals", "websocket_token_env"), ("dashboard", "token_env"), ("telegram", "token_env"),
])
def test_a_secret_given_in_place_of_its_variable_name_is_refused_unquoted(
        tmp_path: Path, section: str, key: str):
    # found by review: a Telegram token pasted as telegram.token_env was printed whole in the
    # start's error ("environment variable 123456789:AAH... must hold the bot token")
    path = write(tmp_path, f'[{section}]\n{key} = "{TELEGRAM_TOKEN}"\n')
    assert refused(path) == f"{path}: {section}.{key}: {NOT_A_NAME}"
    result = status(path)
    assert result.returncode == 2 and "AAHdq" not in result.stderr + result.stdout
    assert unlined(result.stderr) == f"bot.py: error: {path}: {section}.{key}: {NOT_A_NAME}\n"


def test_an_account_api_key_env_holding_a_key_is_refused_unquoted(tmp_path: Path):
    path = write(tmp_path, '[[accounts]]\nname = "a"\n'
                           'exchange.api_secret_env = "Zx9+/kd83KDl02=="\n')
    assert refused(path) == f"{path}: accounts[0].exchange.api_secret_env: {NOT_A_NAME}"
    assert "Zx9" not in refused(path)


@pytest.mark.parametrize("url", [f"https://hooks:{PASSWORD}@alerts.example/hook",
                                 f"http://{PASSWORD}@127.0.0.1:8080/hook?x=1"])
def test_an_alert_webhook_with_a_user_and_password_is_refused(tmp_path: Path, url: str):
    """Found by review: accepted, but urllib takes `user:password@` for part of the host name,
    so every alert POST failed, found only at the first escalation. Refused in one line naming
    the key, never repeating the URL; a key in the path or query (Slack, Discord) is fine."""
    line = ("supervision.alert_webhook: must not hold a user name or password (user:password@): "
            "the alert POST cannot send them and every alert would fail; use a URL whose key is "
            "in its path or query")
    path = write(tmp_path, f'[supervision]\nalert_webhook = "{url}"\n')
    assert refused(path) == f"{path}: {line}"
    account = write(tmp_path, f'[[accounts]]\nname = "a"\nsupervision.alert_webhook = "{url}"\n')
    assert refused(account) == f"{account}: accounts[0].{line}"
    fine = write(tmp_path, '[supervision]\nalert_webhook = '
                           f'"https://hooks.example/services/{PASSWORD}?a=b@c"\n')
    assert load_settings(fine).supervision.alert_webhook.endswith("?a=b@c")
