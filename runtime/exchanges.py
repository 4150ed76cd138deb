"""Choosing and building the exchange behind the port: the paper exchange, or a real ccxt one."""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from config.settings import Settings
from exchange.counting import CountingPort
from exchange.errors import ExchangeError
from exchange.paper.csv_prices import CsvPriceSource, NoPrices
from exchange.paper.exchange import PaperExchange
from exchange.paper.prices import GeneratorPriceSource, PriceSource
from exchange.paper.store import PositionModeMismatch
from exchange.port import ExchangePort
from exchange.records import VenueFill
from runtime.startup_error import StartupConfigError
from runtime.wiring import StartupError
from storage.database import read_only_uri


def paper_epoch_ms(store: Path) -> int:
    """The paper exchange's creation time: its price grid starts there and survives restarts."""
    if store.exists():
        try:
            con = sqlite3.connect(read_only_uri(store), uri=True)
            try:
                row = con.execute("SELECT value FROM meta WHERE key='created_ms'").fetchone()
            finally:
                con.close()
        except sqlite3.Error:
            row = None
        if row:
            try:
                return int(row[0])
            except (TypeError, ValueError):  # found by review: "unexpected ValueError in run"
                raise StartupError(
                    f"{store}: paper exchange store whose creation time (meta created_ms) is "
                    f"not a whole number: {str(row[0])[:40]!r} (a damaged file? move it aside to "
                    "start a fresh paper account)") from None
    return int(time.time() * 1000)


def paper_price_source(settings: Settings, epoch_ms: int) -> PriceSource:
    p = settings.paper
    if p.price_source == "csv":
        files = {s: settings.resolve_config_path(f) for s, f in p.csv_files.items()}
        try:
            return CsvPriceSource(files=files, step_ms=p.step_ms, epoch_ms=epoch_ms)
        except UnicodeDecodeError:  # a ValueError that names no file: say which
            bad = next((f"{f}: not valid UTF-8 (byte offset {at})" for f in files.values()
                        if (at := _not_utf8_at(f)) is not None), "a file is not valid UTF-8")
            raise StartupError(f"paper.csv_files: {bad}") from None
        except ValueError as exc:  # a bad row: the message names the file and the line
            raise StartupError(f"paper.csv_files: {exc}") from None
        except OSError as exc:
            raise StartupError(f"paper.csv_files: {exc.filename}: cannot read it "
                               f"({exc.strerror or exc})") from None
    return GeneratorPriceSource(seed=p.seed, step_ms=p.step_ms, speed=p.speed, epoch_ms=epoch_ms)


def _not_utf8_at(path: Path) -> int | None:
    """The byte offset of the first byte of `path` that is not UTF-8, or None."""
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    except OSError:
        return None
    return None


def build_paper(settings: Settings, data_dir: Path,
                price_source: PriceSource | None = None) -> PaperExchange:
    p = settings.paper
    store = Path(p.store)
    store = store if store.is_absolute() else data_dir / store
    source = price_source or paper_price_source(settings, paper_epoch_ms(store))
    try:
        return PaperExchange(
            store_path=store, symbols=list(settings.symbol_list), price_source=source,
            starting_balance=p.starting_balance_usdt, taker_fee=p.taker_fee, maker_fee=p.maker_fee,
            slippage_bps=p.slippage_bps, leverage=settings.risk.leverage,
            latency_s=p.latency_ms / 1000, hedge_mode=settings.exchange.hedge_mode,
        )
    except NoPrices as exc:  # found by review: "unexpected KeyError in run"
        raise StartupError(
            f"paper.csv_files: {store} holds an open position or order of {exc.symbol}, which "
            "has no candle file; add it back to symbols.list and paper.csv_files so the bot "
            "can manage it (or move the paper store aside to start a fresh paper account)"
        ) from None
    except PositionModeMismatch as exc:  # the file's key and line (runtime/cli.py locates it)
        raise StartupConfigError(f"exchange.hedge_mode = "
                                 f"{str(settings.exchange.hedge_mode).lower()}: {exc}") from exc


@dataclass(frozen=True)
class _GatewayFields:
    """The fields exchange.ccxt.factory.gateway_from_settings reads, taken from our settings."""

    exchange: str
    api_key_env: str | None
    api_secret_env: str | None
    secrets_file: str | None
    sandbox: bool
    demo: bool
    hedge_mode: bool
    stop_mode: str
    markets_cache: str
    rate_limit_per_s: float
    rate_budget_share: float
    entry_max_wait_s: float
    timeout_ms: int
    symbols: list[str]
    api_url: str
    account: str | None = None
    volume_every_s: float | None = None
    """How often the 24 h volumes are read where they cost a read of their own (None: never)."""


_GATEWAY_ACCOUNT: ContextVar[str | None] = ContextVar("gateway_account", default=None)


@contextmanager
def gateway_account(account: str | None) -> Iterator[None]:
    """The live gateways built inside tag their log lines with `account` (several accounts in
    one process: each account's lines name it, as its own lines do); None tags nothing. A
    context, not an argument: every account's exchange builder (the node's fenced one too)
    keeps its `(settings, data_dir)` signature."""
    token = _GATEWAY_ACCOUNT.set(account)
    try:
        yield
    finally:
        _GATEWAY_ACCOUNT.reset(token)


def gateway_fields(settings: Settings, data_dir: Path, *, keys: bool) -> _GatewayFields:
    from exchange.budget_venues import VOLUME_EVERY_S

    e = settings.exchange
    cache = Path(e.markets_cache)
    return _GatewayFields(
        exchange=e.id, api_key_env=e.api_key_env if keys else None,
        api_secret_env=e.api_secret_env if keys else None,
        secrets_file=(str(settings.resolve_config_path(e.secrets_file))
                      if keys and e.secrets_file else None),
        sandbox=e.sandbox, demo=e.demo, hedge_mode=e.hedge_mode, stop_mode=e.stop_mode,
        markets_cache=str(cache if cache.is_absolute() else data_dir / cache),
        rate_limit_per_s=e.rate_limit_per_s, rate_budget_share=e.rate_budget_share,
        entry_max_wait_s=e.entry_max_wait_s, timeout_ms=e.timeout_ms,
        symbols=list(settings.symbol_list), api_url=e.api_url,
        account=_GATEWAY_ACCOUNT.get(),
        volume_every_s=VOLUME_EVERY_S if reads_volumes(settings) else None)


def reads_volumes(settings: Settings) -> bool:
    """Whether the account's REST feed reads the 24 h volumes: only `strategy.min_volume`
    compares with them (a dry run's too: its paper exchange is priced with the volumes its
    live source read, exchange/ccxt/tickers.py)."""
    return settings.bot.mode in ("live", "dry-run") and settings.strategy.min_volume > 0


def build_live(settings: Settings, data_dir: Path, *, keys: bool = True) -> ExchangePort:
    from exchange.budget_venues import SHARED
    from exchange.ccxt.factory import gateway_from_settings  # ccxt import only when needed
    from exchange.venue_blocks import FILE, VenueBlocks

    check_feed_budget(settings)
    SHARED.remember_blocks(VenueBlocks(data_dir / FILE))  # a venue's block outlives a restart
    try:
        gateway = gateway_from_settings(gateway_fields(settings, data_dir, keys=keys))
        gateway.validate()
    except Exception as exc:
        raise StartupError(f"exchange {settings.exchange.id}: {exc}") from exc
    return gateway


def check_feed_budget(settings: Settings) -> None:
    """Settings whose REST feed alone would exhaust the venue budget never start. With the
    venue's streams carrying prices, REST is their fallback and slows to fit instead
    (`rest_poll_interval`)."""
    from exchange.budget_venues import feed_shortfall

    e = settings.exchange
    short = feed_shortfall(e.id, e.poll_interval_s, e.rate_budget_share,
                           reads_volumes(settings))
    if short and not streams_carry_prices(settings):
        raise StartupConfigError(short)  # `exchange.poll_interval_s = ...`: its file line


def check_shared_feeds(accounts: Sequence[Settings], keys: Mapping[str, str] | None = None,
                       warn: Callable[[str], object] | None = None) -> None:
    """The accounts of one process on one venue and API host pay one rate budget (the gateways
    share `exchange.budget_venues.SHARED`), so their REST price feeds share polling's part of
    it: feeds that fit one by one (`check_feed_budget`) but not together never start. The
    budget has one share (the first gateway built on it set it and the others' went unused),
    so accounts on it that set different ones never start either. Each refusal is a
    StartupConfigError that leads with the key of an account that causes it (`keys`: account
    -> `accounts[i].`, see `account_keys`), so the line names its file and line (found by
    review: these two were the only start refusals printed bare). Their schedules of REST
    while the streams are down are judged together as well (`check_shared_demand`; `warn`:
    its warning, None: refusals only)."""
    from exchange.budget_venues import shared_feed_shortfall
    from runtime.workers_role import account_venue

    keys = keys or {}
    groups: dict[tuple[str, str], list[Settings]] = {}
    for a in accounts:
        if a.bot.mode in ("live", "dry-run"):
            groups.setdefault(account_venue(a), []).append(a)
    for group in groups.values():
        shares = {a.bot.account: a.exchange.rate_budget_share for a in group}
        if len(set(shares.values())) > 1:
            odd = next(n for n, v in shares.items() if v != shares[group[0].bot.account])
            raise StartupConfigError(
                f"{keys.get(odd, '')}exchange.rate_budget_share = {shares[odd]:g}: "
                f"accounts {', '.join(shares)} pay one {group[0].exchange.id} rate budget but "
                f"set exchange.rate_budget_share = {', '.join(f'{v:g}' for v in shares.values())}"
                f"; the budget is the venue's per IP, one share for all of them: set the same "
                f"exchange.rate_budget_share for each")
        feeds = {a.bot.account: a.exchange.poll_interval_s for a in group
                 if not streams_carry_prices(a)}
        short = shared_feed_shortfall(group[0].exchange.id, feeds,
                                      group[0].exchange.rate_budget_share,
                                      {a.bot.account for a in group if reads_volumes(a)})
        if short:
            first = next(iter(feeds))
            raise StartupConfigError(f"{keys.get(first, '')}exchange.poll_interval_s: {short}")
    from runtime.rest_demand import check_shared_demand  # their REST while the streams are down

    check_shared_demand(accounts, keys, warn)


def check_split_budgets(settings: Settings, workers: Sequence[tuple[int, tuple[str, ...]]],
                        split: Mapping[str, int]) -> None:
    """`run --workers`: a REST feed that fits the whole share may not fit a worker's part of it
    (`split`: account -> worker processes on its venue): refused in the parent, with the split
    named (a worker would fail the same check at start), as are the accounts of one worker
    (`workers`: its number and accounts) whose feeds fit one by one but not together, and the
    accounts of all workers whose REST schedules ask their venue more than its limit."""
    from runtime.workers_role import ProcessRole

    for a in settings.account_settings():
        parts = split.get(a.bot.account, 1)
        if parts <= 1:
            continue
        share = a.exchange.rate_budget_share
        part = a.model_copy(update={"exchange": a.exchange.model_copy(
            update={"rate_budget_share": share / parts})})
        try:
            check_feed_budget(part)
        except StartupError as exc:
            raise StartupError(
                f"--workers: account {a.bot.account} shares {a.exchange.id} with "
                f"{parts - 1} other worker process(es), so it gets {share:g}/{parts} of "
                f"exchange.rate_budget_share: {exc}") from None
    pairs = tuple(split.items())
    for index, accounts in workers:
        role = ProcessRole(worker=index, accounts=accounts, budget_split=pairs)
        check_shared_feeds([role.budgeted(a) for a in settings.account_settings()
                            if role.runs(a.bot.account)], account_keys(settings))
    from runtime.rest_demand import check_shared_demand

    # the venue's limit is the IP's: the accounts of every worker on one venue ask it together
    check_shared_demand(settings.account_settings(), account_keys(settings), None)


def account_keys(settings: Settings) -> dict[str, str]:
    """Each account's config key prefix by name: `accounts[i].` (file order), or "" for the
    one account of a file without `[[accounts]]`."""
    return {a.bot.account: f"accounts[{i}]." if settings.has_accounts else ""
            for i, a in enumerate(settings.account_settings())}


def streams_carry_prices(settings: Settings) -> bool:
    """Prices come from the venue's streams (REST polling is only their fallback)."""
    e = settings.exchange
    return bool(e.streams and settings.bot.mode in ("live", "dry-run")
                and not (e.api_url and not e.ws_url))


def rest_poll_interval(settings: Settings, sharers: int = 1) -> float:
    """How often the REST feed polls: `exchange.poll_interval_s`, except that a REST feed
    standing in for the streams slows to what the venue budget allows (startup refuses a
    REST-only feed that does not fit, see build_live). `sharers`: the live accounts of the
    process whose feeds pay the same budget (`feed_sharers`); a venue's streams go down for
    all of them at once, so each account's fallback fits its part of polling's budget."""
    from exchange.budget_venues import fitting_poll_interval

    e = settings.exchange
    if settings.bot.mode != "live" or not streams_carry_prices(settings):
        return e.poll_interval_s  # paper and dry-run accounts read the local paper exchange
    return fitting_poll_interval(e.id, e.poll_interval_s, e.rate_budget_share / max(sharers, 1),
                                 reads_volumes(settings))


def feed_sharers(accounts: Sequence[Settings]) -> dict[str, int]:
    """Account -> how many live accounts of this process pay its venue budget (the gateways
    share `exchange.budget_venues.SHARED`, one budget per venue and API host)."""
    from runtime.workers_role import account_venue

    venues = {a.bot.account: account_venue(a) for a in accounts if a.bot.mode == "live"}
    counts = Counter(venues.values())
    return {name: counts[venue] for name, venue in venues.items()}


def build_dry_run(settings: Settings, data_dir: Path) -> ExchangePort:
    """Live public prices from the real exchange, fills simulated by the paper exchange."""
    from runtime.stream_wiring import dry_run_prices  # the ticker stream when streams are on

    public = build_live(settings, data_dir, keys=False)
    source = dry_run_prices(settings, public)
    source.start()
    try:
        return build_paper(settings, data_dir, price_source=source)
    except (ExchangeError, KeyError) as exc:  # the books open at the venue's price: none came
        source.stop()  # found by review: it was "unexpected NetworkError in run"
        raise StartupError(
            f"exchange {settings.exchange.id}: no live price to open the dry run's paper books "
            f"with ({type(exc).__name__}: {exc}); check the network and exchange.api_url") from None


def build_exchange(settings: Settings, data_dir: Path) -> ExchangePort:
    """The account's exchange port, its calls and errors counted for /metrics."""
    match settings.bot.mode:
        case "paper":
            port: Any = build_paper(settings, data_dir)
        case "live":
            port = build_live(settings, data_dir)
        case "dry-run":
            port = build_dry_run(settings, data_dir)
        case _:
            raise StartupError(f"bot.mode = {settings.bot.mode!r} is not supported")
    return cast(ExchangePort, CountingPort(port))


def fills_poller(exchange: ExchangePort, symbols: list[str], *,
                 forced: bool = False) -> Callable[[int], list[VenueFill]]:
    """How the feed learns about fills: one call for all symbols where the exchange allows it
    (the gateway's poll_updates knows which exchanges need one call per symbol). `forced`: the
    streams' gap fill's, which also reads the fills no order of ours made (liquidations)."""
    poll = getattr(exchange, "poll_updates", None)
    if poll is not None and forced:
        return lambda since_ms: poll(since_ms, symbols=symbols, forced=True)
    if poll is not None:
        return lambda since_ms: poll(since_ms, symbols=symbols)
    return lambda since_ms: exchange.fetch_my_trades(None, since_ms)
