"""Choosing and building the exchange behind the port: the paper exchange, or a real ccxt one."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from config.settings import Settings
from exchange.paper.csv_prices import CsvPriceSource
from exchange.paper.exchange import PaperExchange
from exchange.paper.prices import GeneratorPriceSource, PriceSource
from exchange.port import ExchangePort
from runtime.wiring import StartupError


def paper_epoch_ms(store: Path) -> int:
    """The paper exchange's creation time: its price grid starts there and survives restarts."""
    if store.exists():
        try:
            con = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
            try:
                row = con.execute("SELECT value FROM meta WHERE key='created_ms'").fetchone()
            finally:
                con.close()
            if row:
                return int(row[0])
        except sqlite3.Error:
            pass
    return int(time.time() * 1000)


def paper_price_source(settings: Settings, epoch_ms: int) -> PriceSource:
    p = settings.paper
    if p.price_source == "csv":
        files = {s: settings.resolve_config_path(f) for s, f in p.csv_files.items()}
        return CsvPriceSource(files=files, step_ms=p.step_ms, epoch_ms=epoch_ms)
    return GeneratorPriceSource(seed=p.seed, step_ms=p.step_ms, speed=p.speed, epoch_ms=epoch_ms)


def build_paper(settings: Settings, data_dir: Path, price_source: PriceSource | None = None) -> PaperExchange:
    p = settings.paper
    store = Path(p.store)
    store = store if store.is_absolute() else data_dir / store
    source = price_source or paper_price_source(settings, paper_epoch_ms(store))
    return PaperExchange(
        store_path=store, symbols=list(settings.symbols.list), price_source=source,
        starting_balance=p.starting_balance_usdt, taker_fee=p.taker_fee, maker_fee=p.maker_fee,
        slippage_bps=p.slippage_bps, leverage=settings.risk.leverage, latency_s=p.latency_ms / 1000,
    )


def build_exchange(settings: Settings, data_dir: Path) -> ExchangePort:
    if settings.bot.mode == "paper":
        return build_paper(settings, data_dir)
    raise StartupError(f"bot.mode = {settings.bot.mode!r} is not available yet (use \"paper\")")
