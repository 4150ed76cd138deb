"""Credentials from env / 0600 TOML; never in repr, logs, status or exception messages."""

from __future__ import annotations

import pickle
import re
from decimal import Decimal as D

import pytest
from loguru import logger

from exchange import errors
from exchange.ccxt.secrets import Credentials, CredentialsError, load_credentials
from tests.exchange.ccxt.ccxt_fixtures import (
    API_KEY,
    API_SECRET,
    HELD_TIMEOUT_MS,
    FakeTime,
    make_gateway,
    start_emulator,
)


def test_env_vars_by_name():
    creds = load_credentials(api_key_env="K", api_secret_env="S",
                             environ={"K": "key-1", "S": "sec-1"})
    assert (creds.api_key, creds.secret) == ("key-1", "sec-1")
    with pytest.raises(CredentialsError, match="S"):
        load_credentials(api_key_env="K", api_secret_env="S", environ={"K": "key-1"})


def test_secrets_file_must_be_0600(tmp_path):
    path = tmp_path / "secrets.toml"
    path.write_text('[bybit]\napi_key = "file-key"\nsecret = "file-secret"\n')
    path.chmod(0o644)
    with pytest.raises(CredentialsError) as info:
        load_credentials(secrets_file=path, exchange_id="bybit", environ={})
    assert str(path) in str(info.value) and "0644" in str(info.value)
    assert "file-secret" not in str(info.value)
    path.chmod(0o600)
    creds = load_credentials(secrets_file=path, exchange_id="bybit", environ={})
    assert creds.secret == "file-secret" and creds.source == f"file:{path}"


def test_credentials_do_not_print_or_pickle():
    creds = Credentials("visible-key", "visible-secret", source="test")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds])):
        assert "visible-key" not in text and "visible-secret" not in text
    with pytest.raises(TypeError):
        pickle.dumps(creds)


def test_gateway_repr_status_logs_and_errors_never_show_keys(tmp_path):
    emu = start_emulator("bybit")
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG")
    try:
        gw = make_gateway("bybit", emu, tmp_path)
        gw.load_markets()
        # an exchange error that echoes the request's API key back in its message
        body = {"retCode": 10003, "retMsg": f"API key {API_KEY} is invalid", "result": {}}
        emu.fail_next("/v5/order/create", body=body)
        with pytest.raises(errors.AuthenticationError) as info:
            gw.create_order("BTC/USDT:USDT", "market", "buy", D("0.01"), None,
                            {"clientOrderId": "k-1"})
        emu.fail_next("/v5/market/tickers", 1, status=503, body=f"echo {API_SECRET}")
        gw.fetch_tickers(["BTC/USDT:USDT"])  # retried after the 503, logged on the way
        texts = [repr(gw), str(gw), repr(gw.status()), str(info.value), *lines]
        gw.close()
    finally:
        logger.remove(sink)
        emu.stop()
    assert any("retry 1/" in line for line in lines)
    for text in texts:
        assert API_KEY not in text and API_SECRET not in text


def test_request_signatures_never_reach_logs_or_errors(tmp_path):
    """ccxt puts the signed URL (`...&signature=<hex>`) into timeout and network errors: a
    signed request replays until its recvWindow ends, so it is masked like the secret."""
    emu = start_emulator("binanceusdm")
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG")
    try:
        gw = make_gateway("binanceusdm", emu, tmp_path, timeout_ms=HELD_TIMEOUT_MS,
                          max_attempts=2)
        gw.load_markets()
        emu.fail_next("/fapi/v1/order", 2, hold="before")  # the cancel and its one retry
        with pytest.raises(errors.RequestTimeout) as info:
            gw.cancel_order(None, "BTC/USDT:USDT", {"clientOrderId": "x-1"})
        gw.close()
    finally:
        logger.remove(sink)
        emu.stop()
    texts = [str(info.value), *lines]
    assert "signature=***" in texts[0] and any("signature=***" in line for line in lines)
    for text in texts:
        assert not re.search(r"signature=[0-9a-f]", text), text


def test_a_configured_secrets_file_wins_over_env_vars_left_in_the_shell(tmp_path):
    # found by review: BOT_API_KEY/BOT_API_SECRET of another account (or a testnet) left in the
    # shell silently replaced the configured file; config.toml says the env vars apply only
    # when secrets_file is empty
    path = tmp_path / "secrets.toml"
    path.write_text('[bybit]\napi_key = "file-key"\nsecret = "file-secret"\n')
    path.chmod(0o600)
    env = {"BOT_API_KEY": "shell-key", "BOT_API_SECRET": "shell-secret"}
    creds = load_credentials(api_key_env="BOT_API_KEY", api_secret_env="BOT_API_SECRET",
                             secrets_file=path, exchange_id="bybit", environ=env)
    assert creds.api_key == "file-key" and creds.source == f"file:{path}"
    only_key = {"BOT_API_KEY": "shell-key"}  # a half-set environment no longer breaks the file
    creds = load_credentials(api_key_env="BOT_API_KEY", api_secret_env="BOT_API_SECRET",
                             secrets_file=path, exchange_id="bybit", environ=only_key)
    assert creds.secret == "file-secret"
    creds = load_credentials(api_key_env="BOT_API_KEY", api_secret_env="BOT_API_SECRET",
                             secrets_file=None, environ=env)
    assert creds.api_key == "shell-key"  # no file configured: the env vars


@pytest.mark.parametrize("cache", ["stale", "damaged"])
def test_a_markets_refetch_with_a_cache_never_shows_the_keys(tmp_path, cache):
    """With a markets cache on disk the markets are fetched in one attempt, outside the retry
    layer that masks the key and secret (found by review): an answer echoing them reached the
    warning "markets ... could not be fetched (...); using cache" as it came, and, with a
    cache that cannot be read, the error that stops the start."""
    emu = start_emulator("bybit")
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG")
    texts: list[str] = []
    try:
        fake = FakeTime()
        gw = make_gateway("bybit", emu, tmp_path, fake=fake)
        gw.load_markets()  # writes the cache
        fake.now += 1  # a refetch's cache is older than 0 s (max age): the venue is asked
        if cache == "damaged":
            (tmp_path / "bybit-markets.json").write_text("{")
        emu.fail_next("/v5/market/instruments-info", 1, status=503,
                      body=f"echo {API_KEY} {API_SECRET}")
        try:
            gw.load_markets(reload=True)
        except errors.ExchangeError as exc:
            texts.append(str(exc))
        gw.close()
    finally:
        logger.remove(sink)
        emu.stop()
    texts += lines
    assert any("echo" in text for text in texts), texts  # the answer was quoted
    for text in texts:
        assert API_KEY not in text and API_SECRET not in text, text
