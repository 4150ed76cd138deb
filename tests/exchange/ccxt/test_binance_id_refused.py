"""`exchange.id = "binance"` (ccxt's spot-first Binance class) is refused at start with one line
naming "binanceusdm": taken as a generic venue, its stops (Binance algo orders) were looked up
and cancelled in the plain order book only (a resting stop 'not found', a cancel 'already
gone' while it rested), and its balance and all-symbol open orders were the spot wallet's. The
gateway is built from the real ccxt.binance class pointed at the emulator."""

from __future__ import annotations

import pytest

from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import factory_for, make_gateway, start_emulator


def test_the_binance_id_is_refused_naming_binanceusdm(tmp_path):
    emu = start_emulator("binanceusdm")
    try:
        with pytest.raises(errors.NotSupported,
                           match="use the ccxt id 'binanceusdm' instead of 'binance'"):
            make_gateway("binance", emu, tmp_path, factory=factory_for("binance", emu))
        gw = make_gateway("binanceusdm", emu, tmp_path)  # the right id still starts
        gw.close()
    finally:
        emu.stop()
