"""One client-id builder for both styles; ids unique per account by construction and within the
venues' limit (issue 16 item 9: `ZZTOP2` and `ZZTOP24` used to share a symbol code)."""

from __future__ import annotations

import itertools
import re
import tomllib
from decimal import Decimal as D
from pathlib import Path

import pytest

from exchange.ccxt.order_params import VENUES, validate_client_order_id
from exchange.paper.prices import REFERENCE_PRICES
from tests.exchange.ccxt.emu_binance import EXCHANGE_INFO
from tests.exchange.ccxt.emu_bybit import INSTRUMENTS
from tests.trading.conftest import make_rules
from trading.client_ids import (
    SEQ_RESERVE,
    check_fits,
    client_order_id,
    symbol_code,
    symbol_from_code,
)
from trading.grid.rules import GridRules
from trading.orders import OrderPurpose
from trading.rules import MarketRules, Rules

ROOT = Path(__file__).resolve().parents[2]
LONGEST_ACCOUNT = "abcdefghijkl"  # config: 1..12 characters of a-z, 0-9, _
TAG = "ab12"  # storage: secrets.token_hex(2)


def venue_symbols() -> list[str]:
    """Every symbol the paper exchange, the two venue emulators and the shipped configs list."""
    paper = [f"{base}/USDT:USDT" for base in REFERENCE_PRICES]
    bybit = [f"{i['baseCoin']}/{i['quoteCoin']}:{i['settleCoin']}" for i in INSTRUMENTS]
    binance = [f"{s['baseAsset']}/{s['quoteAsset']}:{s['marginAsset']}"
               for s in EXCHANGE_INFO["symbols"]]
    configs: list[str] = []
    for path in [ROOT / "config.toml", *sorted((ROOT / "examples").glob("*.toml"))]:
        data = tomllib.loads(path.read_text())
        for section in [data, *data.get("accounts", [])]:
            configs += section.get("symbols", {}).get("list", [])
    return sorted(set(paper + bybit + binance + configs))


ADVERSARIAL = [
    "ZZTOP2/USDT:USDT", "ZZTOP24/USDT:USDT", "ZZTOP/USDT:USDT", "ZZTOP2/USDC:USDC",
    "1000PEPE/USDT:USDT", "1000000MOG/USDT:USDT", "1000000BABYDOGE/USDT:USDT",
    "btc/USDT:USDT", "BTC/USDT:USDT", "BTC/USDT", "BTC/USD:BTC", "BTC/USDT:USDT-250328",
    "BTC_USDT/USDT:USDT", "BTC/USDT_USDT:USDT", "A-B/USDT:USDT", "_x/USDT:USDT", "BTC",
    "BTCUSDT/USDT:USDT", "ÄPFEL/USDT:USDT", "X/Y:Z", "X/Y:Y", "X_Y/Y:Y",
    "1000/USDT:USDT", "BTC1f2/USDT:USDT", "abc/USDT:USDT", "1000_USDT/USDT:USDT",
]


def test_every_listed_symbol_fits_with_the_longest_account_name():
    symbols = venue_symbols()
    assert len(symbols) >= 18 and "BTC/USDT:USDT" in symbols
    for symbol in symbols:
        check_fits(LONGEST_ACCOUNT, TAG, symbol)
        for purpose in OrderPurpose:
            cid = client_order_id(LONGEST_ACCOUNT, TAG, symbol, SEQ_RESERVE, purpose)
            for venue in VENUES.values():  # the exchange layer's own check, both venues
                assert validate_client_order_id(venue, cid) == cid


@pytest.mark.parametrize("symbol", sorted(set(ADVERSARIAL)) + venue_symbols())
def test_symbol_code_is_injective_and_id_safe(symbol):
    code = symbol_code(symbol)
    assert symbol_from_code(code) == symbol  # readable back: no two symbols share a code
    assert re.fullmatch(r"[A-Za-z0-9_]+", code)


def fits(account: str, symbol: str) -> bool:
    try:
        check_fits(account, TAG, symbol)
    except ValueError:
        return False
    return True


def test_no_two_symbols_share_an_id_on_one_account():
    every = sorted(set(ADVERSARIAL + venue_symbols()))
    assert len({symbol_code(s) for s in every}) == len(every)
    symbols = [s for s in every if fits("main", s)]
    refused = sorted(set(every) - set(symbols))  # escaped or dated names are long: refused
    assert refused == sorted(["BTC/USDT:USDT-250328", "BTC_USDT/USDT:USDT", "A-B/USDT:USDT",
                              "BTC/USDT_USDT:USDT", "_x/USDT:USDT", "ÄPFEL/USDT:USDT",
                              "1000_USDT/USDT:USDT"])
    ids = [client_order_id("main", TAG, s, seq, p)
           for s, seq, p in itertools.product(symbols, range(1, 120), OrderPurpose)]
    assert len(set(ids)) == len(ids) == len(symbols) * 119 * len(OrderPurpose)


def test_zztop2_and_zztop24_no_longer_collide():
    a = client_order_id("main", TAG, "ZZTOP2/USDT:USDT", 24, OrderPurpose.STOP)
    b = client_order_id("main", TAG, "ZZTOP24/USDT:USDT", 24, OrderPurpose.STOP)
    assert a == "main-ab12-ZZTOP2-24s" and b == "main-ab12-ZZTOP24-24s"
    # nor by shifting digits between the code and the sequence
    assert client_order_id("main", TAG, "ZZTOP2/USDT:USDT", 41, OrderPurpose.STOP) != \
        client_order_id("main", TAG, "ZZTOP24/USDT:USDT", 1, OrderPurpose.STOP)


# The previous version's ids: <account>-<tag>-<first 5 alphanumerics of the base><3 hex of a
# sha1 of the symbol>-<seq><letter>, e.g. main-ab12-BTC1f2-2s.
OLD_ID = re.compile(r"main-ab12-(?P<code>[A-Za-z0-9]{0,5}[0-9a-f]{3})-\d+[a-z]")


def test_new_ids_can_never_equal_an_id_of_the_previous_format():
    symbols = [s for s in sorted(set(ADVERSARIAL + venue_symbols())) if fits("main", s)]
    assert "1000/USDT:USDT" in symbols and "BTC1f2/USDT:USDT" in symbols
    for symbol, purpose in itertools.product(symbols, OrderPurpose):
        cid = client_order_id("main", TAG, symbol, 7, purpose)
        assert re.fullmatch(r"main-ab12-[A-Za-z0-9_]+-7[a-z]", cid)  # the same layout
        assert not OLD_ID.fullmatch(cid), cid
    assert symbol_code("1000/USDT:USDT") == "1000_USDT"  # "1000" alone looks like an old code
    assert symbol_code("BTC1f2/USDT:USDT") == "BTC1f2_USDT"


def test_too_long_ids_are_refused_at_construction_not_shortened():
    market = MarketRules(amount_step=D(1), price_tick=D(1), min_amount=D(1), min_cost=D(1))
    symbol = "1000000BABYDOGE/USDT:USDT"
    check_fits("main", TAG, symbol)  # fits a short account name
    with pytest.raises(ValueError) as err:
        Rules(symbol=symbol, account=LONGEST_ACCOUNT, id_tag=TAG, market=market,
              risk=make_rules().risk)
    message = str(err.value)
    assert message.startswith(f"{symbol}: its client order ids") and "\n" not in message
    assert "never shortened" in message and "'abcdefghijkl'" in message
    with pytest.raises(ValueError, match="would be longer than 36 characters"):
        GridRules(symbol=symbol, account=LONGEST_ACCOUNT, id_tag=TAG, market=market,
                  order_size_usdt=D(1), levels=1, step_pct=D(1), size_multiplier=D(1),
                  take_profit_pct=D(1), stop_loss_pct=D(1), recalc_pct=D(1), leverage=1)


def test_both_styles_build_ids_with_the_one_builder():
    market = MarketRules(amount_step=D(1), price_tick=D(1), min_amount=D(1), min_cost=D(1))
    grid = GridRules(symbol="ETH/USDT:USDT", account="acc", id_tag=TAG, market=market,
                     order_size_usdt=D(1), levels=1, step_pct=D(1), size_multiplier=D(1),
                     take_profit_pct=D(1), stop_loss_pct=D(1), recalc_pct=D(1), leverage=1)
    for seq, purpose in itertools.product((1, 99), OrderPurpose):
        assert grid.client_order_id(seq, purpose) == client_order_id(
            "acc", TAG, "ETH/USDT:USDT", seq, purpose)
