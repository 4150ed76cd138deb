"""Paper mode at a fixed step, driven to completion: the parity test's other side.

Everything here is the production paper bot's parts, wired as `runtime/account.py` wires them:
the paper exchange (its SQLite store, its CSV price source), real pykka actors (`SymbolActor` /
`GridActor`) with their SQLite repository and executors, and the real `MarketFeed`. Only time
differs: one virtual clock is injected into the exchange, the actors and the feed (all three
take a clock through their constructors, so no production hook was needed), and instead of the
feed's thread a loop steps the clock to each price point of the CSV source, calls the feed's
`poll_once` (tickers, which make resting orders act at the point, then fills), and waits until
every actor has handled everything queued (a `Ping` ask: mailboxes are FIFO).

Prices go to the actors as `Tick` messages (no conflating price slots), so the strategy sees
every point, as in the backtest.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from actors.grid_actor import GridActor, GridDeps
from actors.market_feed import MarketFeed
from actors.messages import Ping
from actors.symbol_actor import ActorDeps, SymbolActor
from config.settings import Settings
from exchange.paper.csv_prices import CsvPriceSource
from exchange.paper.exchange import PaperExchange
from runtime import wiring
from runtime.exchanges import fills_poller
from storage import queries
from storage.repository import Repository


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class NullLog:
    """A loguru-shaped logger that keeps nothing (the journal in SQLite is what we compare)."""

    def bind(self, **_: Any) -> NullLog:
        return self

    def opt(self, **_: Any) -> NullLog:
        return self

    def _drop(self, *_: Any, **__: Any) -> None:
        return None

    debug = info = warning = error = success = critical = _drop


def run_paper(settings: Settings, files: dict[str, Path], first_ms: int, timeframe_ms: int,
              candles: int, tmp: Path) -> tuple[list[Any], list[dict[str, Any]]]:
    """Step every point of `candles` candles per symbol; returns (ledger rows, journal rows)."""
    clock = Clock((first_ms - 1) / 1000)
    source = CsvPriceSource(files={s: files[s] for s in settings.symbols.list},
                            step_ms=timeframe_ms, epoch_ms=first_ms)
    p = settings.paper
    exchange = PaperExchange(
        store_path=tmp / "paper.sqlite", symbols=list(settings.symbols.list), price_source=source,
        starting_balance=p.starting_balance_usdt, taker_fee=p.taker_fee, maker_fee=p.maker_fee,
        slippage_bps=p.slippage_bps, leverage=settings.risk.leverage, latency_s=0.0, clock=clock,
        hedge_mode=settings.exchange.hedge_mode)
    repo = Repository(tmp / "bot.sqlite", synchronous="normal", clock=clock)
    refs: dict[str, Any] = {}
    try:
        deps = ActorDeps(
            exchange=exchange, repo=repo,
            core_for=wiring.core_factory(settings, exchange, repo.id_tag),
            strategy_for=wiring.strategy_factory(settings), logger=NullLog(),
            report=lambda *a: None, on_escalate=lambda *a: None, clock=clock, prices=None)
        grid = settings.strategy.name == "hedge_grid"
        for symbol in settings.symbols.list:
            if grid:
                gdeps = GridDeps(core_for=wiring.grid_core_factory(settings, exchange, repo.id_tag))
                refs[symbol] = GridActor.start(symbol, deps, gdeps)
            else:
                refs[symbol] = SymbolActor.start(symbol, deps)
        feed = MarketFeed(
            exchange=exchange, symbols=list(settings.symbols.list),
            deliver=lambda symbol, message: bool(refs[symbol].tell(message) or True),
            interval_s=1.0, own_prefix=f"{settings.bot.account}-{repo.id_tag}-", logger=NullLog(),
            clock=clock, fetch_fills=fills_poller(exchange, list(settings.symbols.list)))
        for index in range(candles * 4):
            candle, quarter = divmod(index, 4)
            clock.now = (first_ms + candle * timeframe_ms + quarter * timeframe_ms // 4) / 1000
            feed.poll_once()
            for ref in refs.values():
                ref.ask(Ping(), timeout=30)
        return repo.read(queries.fills), repo.read(queries.events)
    finally:
        for ref in refs.values():
            ref.stop(timeout=10)
        exchange.close()
        repo.close()


def ledger_key(side: str, amount: Decimal, price: Decimal, fee: Decimal,
               pnl: Decimal) -> tuple[str, str, str, str, str]:
    return side, str(Decimal(amount)), str(Decimal(price)), str(Decimal(fee)), str(Decimal(pnl))
