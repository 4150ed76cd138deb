"""Building a CcxtGateway from settings fields.

`gateway_from_settings(s)` reads these attributes of any settings object (missing ones take
the defaults shown): exchange (ccxt id, required), api_key_env=None, api_secret_env=None,
secrets_file=None, sandbox=False, demo=False, hedge_mode=False, stop_mode="exchange",
markets_cache=None, rate_limit_per_s=None (no extra cap), rate_budget_share=0.5,
entry_max_wait_s=2.0, timeout_ms=10000, symbols=None, volume_every_s=VOLUME_EVERY_S (None: no
24 h volume reads, exchange/ccxt/rest_tickers.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ccxt

from exchange.budget_meter import MaxWaits, RequestMeter
from exchange.budget_venues import SHARED, VOLUME_EVERY_S
from exchange.ccxt import venue_clock
from exchange.ccxt.gateway import CcxtGateway
from exchange.ccxt.instances import meter_streams
from exchange.ccxt.secrets import load_credentials
from exchange.ccxt.stream_login import sign_with_venue_time

# Options that keep start-up to what a USDT-perp bot needs: Bybit loads linear markets only;
# Binance USDⓈ-M skips the spot-wallet coin list and margin pairs (a futures-only key may not
# read them).
DEFAULT_OPTIONS: dict[str, dict[str, Any]] = {
    "bybit": {"defaultType": "swap", "fetchMarkets": {"types": ["linear"]}},
    "binanceusdm": {"fetchCurrencies": False, "fetchMargins": False},
}


def point_api_at(exchange: ccxt.Exchange, base_url: str) -> ccxt.Exchange:
    """Send every API call to `base_url` (scheme://host[:port]), keeping each endpoint's path:
    for a local emulator or a forwarding proxy."""
    target = urlsplit(base_url)
    moved: list[tuple[str, str]] = []  # (the URL now, the venue's own)

    def rewrite(url: str) -> str:
        parts = urlsplit(url.replace("{hostname}", "example.invalid"))
        moved.append((urlunsplit((target.scheme, target.netloc, parts.path, "", "")), url))
        return moved[-1][0]

    api = exchange.urls["api"]
    if isinstance(api, str):
        exchange.urls["api"] = rewrite(api)
    else:
        exchange.urls["api"] = {k: rewrite(v) if isinstance(v, str) else v for k, v in api.items()}
    _errors_by_venue_url(exchange, moved)
    return exchange


def _errors_by_venue_url(exchange: ccxt.Exchange, moved: list[tuple[str, str]]) -> None:
    """ccxt's Binance reads a market's own error codes by the request's host (fapi.binance.com:
    USDⓈ-M's -2019 "Margin is insufficient." InsufficientFunds, -2021 "Order would immediately
    trigger.", -2022 "ReduceOnly Order is rejected." InvalidOrder): behind `api_url` that host
    is gone and they fell to a bare ExchangeError, looked up as an order call of unknown
    outcome (a live Binance grid chaos run logged -2022 so). Asked with the venue's own URL."""
    own = getattr(exchange, "get_exceptions_by_url", None)
    if own is None:
        return
    hostname = getattr(exchange, "hostname", None) or "binance.com"
    # a path two hosts share (Binance's /futures/data of dapi and fapi) keeps the later one's
    longest_first = sorted(dict(moved).items(), key=lambda pair: len(pair[0]), reverse=True)

    def get_exceptions_by_url(url: Any, exact_or_broad: str) -> dict:
        for now, venue in longest_first:
            if isinstance(url, str) and url.startswith(now):
                return own(venue.replace("{hostname}", hostname) + url[len(now):], exact_or_broad)
        return own(url, exact_or_broad)

    exchange.get_exceptions_by_url = get_exceptions_by_url


def point_ws_at(exchange: Any, ws_base_url: str) -> Any:
    """Send every WebSocket stream of a ccxt.pro instance to `ws_base_url` (ws[s]://host[:port]),
    keeping each stream's path: for a local emulator (`point_api_at` does the REST side)."""
    target = urlsplit(ws_base_url)

    def rewrite(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        if not isinstance(value, str):
            return value
        parts = urlsplit(value.replace("{hostname}", "example.invalid"))
        return urlunsplit((target.scheme, target.netloc, parts.path, "", ""))

    exchange.urls["api"]["ws"] = rewrite(exchange.urls["api"]["ws"])
    return exchange


def exchange_factory(exchange_id: str, timeout_ms: int = 10_000,
                     options: dict[str, Any] | None = None,
                     api_url: str = "") -> Callable[[], ccxt.Exchange]:
    """A factory of fresh, keyless, unthrottled sync ccxt instances for `exchange_id`."""
    if exchange_id not in ccxt.exchanges:
        raise ValueError(f"unknown ccxt exchange id {exchange_id!r}")
    cls = getattr(ccxt, exchange_id)
    opts = {**DEFAULT_OPTIONS.get(exchange_id, {}), **(options or {})}

    def build() -> ccxt.Exchange:
        ex = cls({"timeout": int(timeout_ms), "enableRateLimit": False, "options": dict(opts)})
        return point_api_at(ex, api_url) if api_url else ex

    return build


def gateway_from_settings(settings: Any, *, environ: Mapping[str, str] | None = None,
                          **overrides: Any) -> CcxtGateway:
    """CcxtGateway configured from settings fields (see module docstring). `environ` defaults
    to os.environ; keyword overrides win over settings (e.g. exchange_factory, clock)."""
    def get(name: str, default: Any = None) -> Any:
        return getattr(settings, name, default)

    exchange_id = get("exchange")
    timeout_ms = int(get("timeout_ms", 10_000) or 10_000)
    credentials = load_credentials(
        api_key_env=get("api_key_env"), api_secret_env=get("api_secret_env"),
        secrets_file=Path(get("secrets_file")) if get("secrets_file") else None,
        exchange_id=exchange_id, environ=environ)
    cache = get("markets_cache")
    kwargs: dict[str, Any] = dict(
        credentials=credentials, sandbox=bool(get("sandbox", False)),
        demo=bool(get("demo", False)), hedge_mode=bool(get("hedge_mode", False)),
        stop_mode=get("stop_mode", "exchange"), markets_cache=Path(cache) if cache else None,
        rate_limit_per_s=get("rate_limit_per_s"), timeout_ms=timeout_ms,
        symbols=get("symbols"), budgets=SHARED,  # every account of the process shares it
        rate_budget_share=float(get("rate_budget_share", 0.5) or 0.5),
        max_waits=MaxWaits(entry_s=float(get("entry_max_wait_s", 2.0))),
        account=get("account"), volume_every_s=get("volume_every_s", VOLUME_EVERY_S))
    kwargs.update(overrides)
    factory = kwargs.pop("exchange_factory", None) or exchange_factory(
        exchange_id, timeout_ms, api_url=get("api_url", "") or "")
    return CcxtGateway(factory, **kwargs)


def pro_exchange_factory(exchange_id: str, credentials: Any = None, *, sandbox: bool = False,
                         demo: bool = False, timeout_ms: int = 10_000, api_url: str = "",
                         ws_url: str = "", options: dict[str, Any] | None = None,
                         meter: RequestMeter | None = None) -> Callable[[], Any]:
    """A factory of ccxt.pro (async, WebSocket) instances for `exchange_id`, keyed with
    `credentials` (None: public streams only). Call it inside the stream's event loop.
    `meter`: the REST gateway's (`CcxtGateway.meter`), so the streams' own REST calls
    (Binance's listenKey) are counted in the venue budget, and they and the private login are
    signed with the venue's time the gateway learned (stream_login.py)."""
    import ccxt.pro  # the async layer loads only when streams are used

    if exchange_id not in ccxt.pro.exchanges:
        raise ValueError(f"ccxt.pro has no streams for exchange id {exchange_id!r}")
    cls = getattr(ccxt.pro, exchange_id)
    opts = {**DEFAULT_OPTIONS.get(exchange_id, {}), **(options or {})}

    def build() -> Any:
        ex = cls({"timeout": int(timeout_ms), "enableRateLimit": False, "options": dict(opts)})
        if credentials is not None:
            ex.apiKey, ex.secret = credentials.api_key, credentials.secret
        if sandbox:
            ex.set_sandbox_mode(True)
        if demo:
            ex.enable_demo_trading(True)
        if api_url:
            point_api_at(ex, api_url)
        if ws_url:
            point_ws_at(ex, ws_url)
        if meter is not None:
            meter_streams(ex, meter)
            sign_with_venue_time(ex, venue_clock.shared(meter.venue, ex.id))
        return ex

    return build
