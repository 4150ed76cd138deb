"""Putting the venue's streams in front of an account's REST market feed (`[exchange] streams`).

Live: prices, own orders and own fills from the streams, REST while they are down. Dry-run:
the paper exchange's live price source takes the venue's public ticker stream
(`dry_run_prices`); its fills are the paper exchange's, and the account's feed reads prices
from the paper exchange as in paper mode. Paper has no venue. With `api_url` set (a proxy or
an emulator) streams run only when `ws_url` is set too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from actors.market_feed import MarketFeed
from actors.stop_watch import StopWatch
from actors.stream_feed import StreamFeed
from config.settings import Settings
from runtime.exchanges import fills_poller, rest_poll_interval
from supervision.reconcile_schedule import ReconcileSchedule


def with_streams(settings: Settings, data_dir: Path, feed: MarketFeed, logger: Any,
                 environ: Any = None,
                 views: Mapping[str, Any] | None = None) -> MarketFeed | StreamFeed:
    """`feed` itself when streams are off or not used in this mode, else a StreamFeed that
    uses `feed` for REST fallback and gap fills. `views`: the actors' published states, to
    compare streamed positions with (none: positions are not compared)."""
    e = settings.exchange
    if not e.streams or settings.bot.mode != "live":
        return feed
    if e.api_url and not e.ws_url:
        # REST goes to a proxy or an emulator: streams must not bypass it to the real venue
        logger.warning("exchange.streams off: exchange.api_url is set without exchange.ws_url; "
                       "prices and fills are polled over REST")
        return feed
    from exchange.ccxt.factory import pro_exchange_factory
    from exchange.ccxt.secrets import load_credentials
    from exchange.ccxt.streams import VenueStreams

    credentials = load_credentials(
        api_key_env=e.api_key_env, api_secret_env=e.api_secret_env,
        secrets_file=settings.resolve_config_path(e.secrets_file) if e.secrets_file else None,
        exchange_id=e.id, environ=environ)
    from exchange.budget_meter import RequestMeter

    # the streams' own REST calls (Binance's listenKey) spend from the gateway's venue budget
    meter = getattr(feed.exchange, "meter", None)
    build = pro_exchange_factory(e.id, credentials, sandbox=e.sandbox, demo=e.demo,
                                 timeout_ms=e.timeout_ms, api_url=e.api_url, ws_url=e.ws_url,
                                 meter=meter if isinstance(meter, RequestMeter) else None)
    stream_feed = StreamFeed(rest=feed, stale_s=e.stream_stale_s, logger=logger, views=views,
                             silent_s=e.stream_symbol_silent_s)
    # the REST gateway's markets (loaded at startup): the streams make no second markets call
    markets = getattr(feed.exchange, "markets", None)
    streams = VenueStreams(build=build, symbols=list(settings.symbol_list), sink=stream_feed,
                           logger=logger, private=credentials is not None,
                           markets=markets if callable(markets) else None)
    return stream_feed.attach(streams)


def account_feed(settings: Settings, data_dir: Path, exchange: Any, symbols: list[str],
                 deliver: Callable[[str, Any], Any], prices: Any, *, own_prefix: str,
                 sharers: int, logger: Any,
                 views: Mapping[str, Any] | None) -> MarketFeed | StreamFeed:
    """An account's market feed: REST polling paced for the accounts sharing the venue's
    budget (`sharers`), own fills told apart by `own_prefix`, and the venue's streams in front
    of it when [exchange] streams is on (`with_streams`)."""
    feed = MarketFeed(
        exchange=exchange,
        symbols=symbols,
        deliver=deliver,
        interval_s=rest_poll_interval(settings, sharers),
        own_prefix=own_prefix,
        logger=logger,
        fetch_fills=fills_poller(exchange, symbols),
        prices=prices,
        gap_fills=fills_poller(exchange, symbols, forced=True),
        pace_quiet=settings.bot.pace_quiet_wakes,
    )
    # the venue's streams in front of the REST feed when [exchange] streams is on
    return with_streams(settings, data_dir, feed, logger, views=views)


def pace_by_reports(feed: StreamFeed, watch: StopWatch,
                    schedule: ReconcileSchedule) -> Callable[[], bool]:
    """While the venue's private streams are up they report cancels, fills and positions: the
    stop watch slows down and the periodic reconcile skips flat symbols (`schedule`). Returns
    the test of "up" the sweep paces itself by too (bench/bench_rate_budget.py wires its bot
    with this, so the bench cannot drift from the account's wiring)."""
    def up() -> bool:
        return feed.mode == "stream" and bool(getattr(feed.streams, "private", False))

    watch.streams_ok = up
    watch.streams_resumed = lambda: feed.resumed
    schedule.streams_ok = up
    return up


def dry_run_prices(settings: Settings, public: Any) -> Any:
    """The dry-run paper exchange's live price source: the venue's public ticker stream (REST
    polling of `public` while it is down) when streams are on, else REST polling alone."""
    from loguru import logger

    from exchange.ccxt.tickers import LiveTickerSource

    e = settings.exchange
    symbols = list(settings.symbol_list)
    if not e.streams or (e.api_url and not e.ws_url):
        if e.streams:  # as live says it (with_streams): REST, so a proxy is never bypassed
            logger.warning("exchange.streams off: exchange.api_url is set without "
                           "exchange.ws_url; dry-run prices are polled over REST")
        # a price not read again within the stale time and two polls: the venue is not answering
        return LiveTickerSource(public, symbols, interval_s=e.poll_interval_s,
                                stale_after_s=e.stream_stale_s + 2 * e.poll_interval_s)

    from exchange.ccxt.factory import pro_exchange_factory
    from exchange.ccxt.stream_tickers import StreamedTickerSource
    from exchange.ccxt.streams import StreamSink, VenueStreams

    build = pro_exchange_factory(e.id, None, sandbox=e.sandbox, demo=e.demo,
                                 timeout_ms=e.timeout_ms, api_url=e.api_url, ws_url=e.ws_url)

    def streams_for(sink: StreamSink) -> VenueStreams:
        return VenueStreams(build=build, symbols=symbols, sink=sink, logger=logger,
                            private=False, markets=getattr(public, "markets", None))

    from exchange.budget_venues import fitting_poll_interval

    # REST stands in for the ticker stream only while it is down: at a pace the budget allows
    fallback_s = fitting_poll_interval(e.id, e.poll_interval_s, e.rate_budget_share)
    # a quiet symbol is read over REST after stream_symbol_silent_s: older than that, the
    # stale time and two polls, neither the stream nor REST is giving its price
    stale_after_s = e.stream_symbol_silent_s + e.stream_stale_s + 2 * fallback_s
    return StreamedTickerSource(public, symbols, interval_s=fallback_s,
                                stale_s=e.stream_stale_s, streams_for=streams_for,
                                silent_s=e.stream_symbol_silent_s, stale_after_s=stale_after_s)
