"""Building the bot's parts from settings: exchange, per-symbol rules, strategies, actors."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from config.settings import Settings
from exchange.errors import AuthenticationError, ExchangeError
from exchange.port import ExchangePort
from runtime.startup_error import StartupConfigError, StartupError
from strategies.base import Strategy
from strategies.mean_reversion import MeanReversion
from supervision import coverage
from trading.client_ids import check_fits
from trading.decide import SymbolCore
from trading.rules import MarketRules, RiskRules, Rules


def market_rules(exchange: ExchangePort, symbol: str) -> MarketRules:
    m = exchange.market(symbol)
    return MarketRules(
        amount_step=m.amount_step,
        price_tick=m.price_tick,
        min_amount=m.min_amount if m.min_amount is not None else m.amount_step,
        min_cost=m.min_cost if m.min_cost is not None else Decimal(0),
        max_amount=m.max_amount,
        taker_fee=m.taker_fee if m.taker_fee is not None else Decimal(0),
        maker_fee=m.maker_fee if m.maker_fee is not None else Decimal(0),
    )


def risk_rules(settings: Settings) -> RiskRules:
    r, s = settings.risk, settings.supervision
    return RiskRules(
        order_size_usdt=r.order_size_usdt,
        stop_loss_pct=r.stop_loss_pct,
        trailing_activation_pct=r.trailing_activation_pct,
        trailing_callback_pct=r.trailing_callback_pct,
        trailing_step_pct=r.trailing_step_pct,
        take_profit_pct=r.take_profit_pct,
        cooldown_after_loss_s=r.cooldown_after_loss_s,
        max_price_age_s=r.max_price_age_s,
        max_close_attempts=s.max_close_attempts,
        close_backoff_initial_s=s.close_backoff_initial_s,
        close_backoff_max_s=s.close_backoff_max_s,
        adopt_unknown_positions=s.adopt_unknown_positions,
        bot_side_stops=settings.exchange.stop_mode == "bot",
        leverage=r.leverage,
    )


def core_factory(
    settings: Settings, exchange: ExchangePort, id_tag: str
) -> Callable[[str], SymbolCore]:
    risk = risk_rules(settings)
    # issue 12: stop moves amend in place where the port can (the ccxt gateway on Bybit)
    risk = replace(risk, amend_stops=bool(getattr(exchange, "can_amend_stops", False)))

    def build(symbol: str) -> SymbolCore:
        return SymbolCore(
            Rules(
                symbol=symbol,
                account=settings.bot.account,
                id_tag=id_tag,
                market=market_rules(exchange, symbol),
                risk=risk,
                send_grace_s=exchange.send_grace_s,  # a fact of the venue (exchange/port.py)
            )
        )

    return build


def grid_core_factory(
    settings: Settings, exchange: ExchangePort, id_tag: str
) -> Callable[[str], Any]:
    """The hedge grid's core per symbol (strategy.name = "hedge_grid")."""
    from trading.grid.core import GridCore
    from trading.grid.rules import GridRules

    g, r, s = settings.strategy.grid, settings.risk, settings.supervision

    def build(symbol: str) -> GridCore:
        return GridCore(
            GridRules(
                symbol=symbol,
                account=settings.bot.account,
                id_tag=id_tag,
                market=market_rules(exchange, symbol),
                order_size_usdt=r.order_size_usdt,
                levels=g.levels,
                step_pct=g.step_pct,
                size_multiplier=g.size_multiplier,
                take_profit_pct=g.take_profit_pct,
                stop_loss_pct=r.stop_loss_pct,
                recalc_pct=g.recalc_pct,
                leverage=r.leverage,
                max_close_attempts=s.max_close_attempts,
                close_backoff_initial_s=s.close_backoff_initial_s,
                close_backoff_max_s=s.close_backoff_max_s,
                adopt_unknown_positions=s.adopt_unknown_positions,
                reopen_after_stop_s=grid_reopen_after_stop_s(r),
                send_grace_s=exchange.send_grace_s,
            )
        )

    return build


def grid_reopen_after_stop_s(risk: Any) -> float:
    """How long a stopped-out grid leg waits before it opens again: 10 s, or
    `risk.cooldown_after_loss_s` when the config sets it higher (found by review: the grid
    ignored it, so `cooldown_after_loss_s = 3600` still reopened a losing side after 10 s)."""
    from trading.grid.rules import REOPEN_AFTER_STOP_S

    wait = REOPEN_AFTER_STOP_S
    if "cooldown_after_loss_s" in risk.model_fields_set:
        wait = max(wait, float(risk.cooldown_after_loss_s))
    return wait


def stop_grace_s(settings: Settings) -> float:
    """How long a position may be without its exchange stop before the `unprotected` alert
    (supervision/coverage.py): built from the request timeout, the style's stop retry (the
    cores' own interval, not a setting), the stop watch and the heartbeat driving the retries."""
    if settings.strategy.name == "hedge_grid":
        from trading.grid.rules import RETRY_S as retry
    else:
        retry = risk_rules(settings).stop_retry_s
    sv = settings.supervision
    return coverage.stop_grace_s(
        request_timeout_s=settings.exchange.timeout_ms / 1000,
        stop_retry_s=float(retry),
        stop_check_interval_s=sv.stop_check_interval_s,
        heartbeat_interval_s=sv.heartbeat_interval_s,
    )


def strategy_factory(settings: Settings) -> Callable[[str], Strategy]:
    s = settings.strategy

    def build(symbol: str) -> Strategy:
        return MeanReversion(
            window=s.window,
            entry_z=s.entry_z,
            exit_z=s.exit_z,
            min_volatility_pct=float(s.min_volatility_pct),
            min_volume=float(s.min_volume),
            allow_short=s.allow_short,
        )

    return build


def _unusable(markets: dict[str, Any], symbols: list[str]) -> str | None:
    """Why these markets cannot be traded from as loaded (a cache gone bad), or None. A market
    without precision is refused by the port's converter (exchange/ccxt/convert.py), so here it
    shows up as a failed load."""
    if not markets:
        return "no markets at all"
    for symbol in symbols:
        m = markets.get(symbol)
        if m is not None and not (m.amount_step > 0 and m.price_tick > 0):
            return f"{symbol} has no usable amount step / price tick"
    return None


def _load(exchange: ExchangePort, reload: bool) -> tuple[dict[str, Any], str | None]:
    try:
        markets = exchange.load_markets(reload=reload)
    except AuthenticationError as exc:  # no refetch repairs a key: say it is the key
        raise key_refused(exchange.id, exc) from None
    except ExchangeError as exc:
        return {}, f"{type(exc).__name__}: {exc}"
    return markets, None


def key_refused(exchange_id: str, exc: Exception) -> StartupError:
    return StartupError(
        f"exchange {exchange_id} refused the API key at start ({exc}); check the key and "
        "secret (exchange.api_key_env / api_secret_env or exchange.secrets_file), their "
        "permissions and IP allow-list, and that they are for this endpoint (live, sandbox "
        "or demo)")


def check_key(exchange: ExchangePort) -> None:
    """Live: one signed read (the balance) before any actor starts. A key the venue refuses
    is a StartupError; Binance loads its markets unsigned, so a wrong key there started the
    bot, which then warned on every poll and reconciliation for as long as it ran. Any other
    failure is left to the usual retries."""
    try:
        exchange.fetch_balance()
    except AuthenticationError as exc:
        raise key_refused(exchange.id, exc) from None
    except ExchangeError:
        pass


def loaded_markets(exchange: ExchangePort, symbols: list[str]) -> dict[str, Any]:
    """The exchange's markets; a load that fails, is empty or lacks a symbol's precision (a
    damaged markets cache) is refetched once, and still bad is a StartupError about the
    exchange's data, not the config (issue 16 item 15: it blamed symbols.list, or crash-looped
    on KeyError: 'amount')."""
    markets, failed = _load(exchange, reload=False)
    if failed is None and _unusable(markets, symbols) is None:
        return markets
    markets, failed = _load(exchange, reload=True)
    again = failed or _unusable(markets, symbols)
    if again is not None:
        raise StartupError(
            f"exchange {exchange.id}: markets unusable after a refetch ({again}); "
            "check exchange.markets_cache and the exchange's answer"
        )
    return markets


def check_symbols(exchange: ExchangePort, symbols: list[str], account: str | None = None) -> None:
    """`account`: also refuse a symbol whose client order ids would not fit with that account
    name (any database's id tag is 4 hex digits): refused only when an actor built its rules,
    such a symbol failed at every spawn and restart, shown as still restoring, while the bot
    ran on (found by review of the dashboard with a symbol of a long name)."""
    markets = loaded_markets(exchange, symbols)
    for symbol in symbols:  # refusals of the file's symbols.list: its line (found by review)
        if account is not None:
            try:
                check_fits(account, "ffff", symbol)
            except ValueError as exc:
                raise StartupConfigError(f"symbols.list: {exc}") from None
        m = markets.get(symbol)
        if m is None:
            raise StartupConfigError(_no_market(exchange, symbol))
        if not (m.swap and m.linear):
            raise StartupConfigError(
                f"symbols.list: {symbol!r} is not a linear perpetual on {exchange.id}"
            )
        if m.contract_size != 1:  # amounts, positions and P&L are in base units throughout
            raise StartupConfigError(
                f"symbols.list: {symbol!r} on {exchange.id} has contract size "
                f"{m.contract_size} (one contract is not one unit of the base): not supported"
            )


def _no_market(exchange: ExchangePort, symbol: str) -> str:
    """A listed market the gateway left out (`left_out`: its limits or precision unreadable)
    is named with its reason: "is not a market" alone sent the user looking for a typo."""
    why = getattr(exchange, "left_out", {}).get(symbol)
    if why is None:
        return f"symbols.list: {symbol!r} is not a market on {exchange.id}"
    return (f"symbols.list: {symbol!r} is listed on {exchange.id} but left out of its markets "
            f"as not tradable ({why})")


def running_version(settings: Settings, root: Path | None = None) -> str:
    """The running code's version; `bot.version`, when set, labels it without hiding it
    ("v1.2 (5bf0965)"): a label left unchanged after an update showed the old code as live
    (INCIDENTS rule 12; found by review)."""
    code = git_version(root or Path(__file__).resolve().parent.parent)
    label = settings.bot.version
    if not label:
        return code or PACKAGE_VERSION
    return f"{label} ({code})" if code and code != label else label  # (no checkout: the label)


PACKAGE_VERSION = "0.1.0"


def checkout_version(root: Path) -> str:
    """The checkout's short commit; with uncommitted changes to tracked files `-dirty.` and the
    first 8 hex digits of the SHA-256 of `git diff HEAD`, so two nodes running different
    uncommitted edits of one commit show different versions (INCIDENTS rule 12; found by
    review: both showed `5bf0965-dirty`). "0.1.0" outside a git checkout."""
    return git_version(root) or PACKAGE_VERSION


def git_version(root: Path) -> str | None:
    """`checkout_version`, None outside a git checkout."""
    def git(*args: str) -> bytes:
        # its own session: a terminal's Ctrl-C at start (SIGINT to the whole group) stops
        # the bot gracefully and must not kill git, which left the version "0.1.0"
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True,
                              timeout=5, check=True, start_new_session=True).stdout

    try:
        head = git("rev-parse", "--short", "HEAD").decode().strip()
        diff = git("diff", "HEAD", "--binary", "--no-ext-diff", "--no-color")
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}-dirty.{hashlib.sha256(diff).hexdigest()[:8]}" if diff else head


def now_ms() -> int:
    return int(time.time() * 1000)
