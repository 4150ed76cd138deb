"""The HTTP emulators refuse what the venues refuse for signing: a wrong secret through the
real ccxt classes (the gateway's AuthenticationError), and, by hand-signed requests, a changed
signature and a timestamp outside the receive window, with each venue's own answer."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

import pytest
import requests

from exchange import errors
from exchange.ccxt.secrets import Credentials
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, make_gateway, start_emulator

VENUES = ["bybit", "binanceusdm"]


def _sign(text: str, secret: str = API_SECRET) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def _tampered(sign: str) -> str:
    """`sign` with its first hex digit changed (to "0", or to "1" when it is "0" already:
    replacing it with "0" left one signature in 16 unchanged, and the test flaked)."""
    return ("1" if sign[0] == "0" else "0") + sign[1:]


@pytest.mark.parametrize("venue_id", VENUES)
def test_a_wrong_secret_is_refused_through_ccxt(tmp_path, venue_id):
    emu = start_emulator(venue_id)
    try:
        gw = make_gateway(venue_id, emu, tmp_path,
                          credentials=Credentials(API_KEY, "not-the-secret", source="test"))
        with pytest.raises(errors.AuthenticationError):
            gw.fetch_positions()
        assert emu.requests  # it reached the venue, which said no
    finally:
        emu.stop()


def _bybit(emu, stamp_ms: int, tamper: bool = False) -> dict:
    query = urlencode({"category": "linear", "settleCoin": "USDT"})
    stamp, window = str(stamp_ms), "5000"
    sign = _sign(stamp + API_KEY + window + query)
    headers = {"X-BAPI-API-KEY": API_KEY, "X-BAPI-TIMESTAMP": stamp,
               "X-BAPI-RECV-WINDOW": window, "X-BAPI-SIGN": _tampered(sign) if tamper else sign}
    return requests.get(f"{emu.base_url}/v5/position/list?{query}", headers=headers,
                        timeout=5).json()


def _binance(emu, stamp_ms: int, tamper: bool = False) -> tuple[int, dict]:
    query = urlencode({"timestamp": stamp_ms, "recvWindow": 5000})
    sign = _sign(query)
    sign = _tampered(sign) if tamper else sign
    r = requests.get(f"{emu.base_url}/fapi/v3/positionRisk?{query}&signature={sign}",
                     headers={"X-MBX-APIKEY": API_KEY}, timeout=5)
    return r.status_code, r.json()


def test_bybit_checks_signature_and_receive_window():
    emu = start_emulator("bybit")
    try:
        now = int(time.time() * 1000)
        assert _bybit(emu, now)["retCode"] == 0
        assert _bybit(emu, now, tamper=True)["retCode"] == 10004
        assert _bybit(emu, now - 6000)["retCode"] == 10002  # older than the 5 s window
        assert _bybit(emu, now + 3000)["retCode"] == 10002  # from the future
    finally:
        emu.stop()


def test_binance_checks_key_signature_and_receive_window():
    emu = start_emulator("binanceusdm")
    try:
        now = int(time.time() * 1000)
        assert _binance(emu, now)[0] == 200
        assert _binance(emu, now, tamper=True) == (400, {
            "code": -1022, "msg": "Signature for this request is not valid."})
        assert _binance(emu, now - 6000)[1]["code"] == -1021
        assert _binance(emu, now + 3000)[1]["code"] == -1021
        no_key = requests.get(f"{emu.base_url}/fapi/v3/positionRisk", timeout=5)
        assert (no_key.status_code, no_key.json()["code"]) == (401, -2015)
        public = requests.get(f"{emu.base_url}/fapi/v1/time", timeout=5)
        assert public.status_code == 200  # market data needs no key
    finally:
        emu.stop()
