"""Typed, frozen settings for the bot (one pydantic model per TOML section).

Every key has a default except ``symbols.list``. Load them with ``config.loader.load_settings``,
which turns validation problems into one-line ``ConfigError`` messages.
"""

from __future__ import annotations

from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, PrivateAttr, model_validator

from config.sections import (
    ACCOUNT_NAME,
    ACCOUNT_NAME_TEXT,
    ACCOUNT_SECTIONS,
    ACCOUNTS_DIR,
    CSV_MIN_STEP_MS,
    KNOWN_STRATEGIES,
    LOG_LEVELS,
    MAX_ACCOUNTS,
    MAX_SYMBOLS,
    BotSettings,
    ClusterSettings,
    DashboardSettings,
    ExchangeSettings,
    GridSettings,
    LoggingSettings,
    PaperSettings,
    ProtectionsSettings,
    RiskSettings,
    SignalsSettings,
    StorageSettings,
    StrategySettings,
    SupervisionSettings,
    SymbolsSettings,
    TelegramSettings,
    _cross,
    _Section,
)
from config.types import ARRAY, Str

__all__ = [
    "ACCOUNT_NAME",
    "ACCOUNT_NAME_TEXT",
    "ACCOUNT_SECTIONS",
    "ACCOUNTS_DIR",
    "CSV_MIN_STEP_MS",
    "KNOWN_STRATEGIES",
    "LOG_LEVELS",
    "MAX_ACCOUNTS",
    "MAX_SYMBOLS",
    "AccountSettings",
    "BotSettings",
    "DashboardSettings",
    "ExchangeSettings",
    "GridSettings",
    "LoggingSettings",
    "PaperSettings",
    "ProtectionsSettings",
    "RiskSettings",
    "Settings",
    "SignalsSettings",
    "StorageSettings",
    "StrategySettings",
    "SupervisionSettings",
    "SymbolsSettings",
    "TelegramSettings",
    "ClusterSettings",
]


_KEYED_TABLES = {"strategy": ("grid",)}
"""Tables of settings inside an account section, inherited key by key like the section itself:
`strategy.grid.levels = 3` in an account keeps the top-level grid's other keys (it replaced the
whole grid, so the step and sizes fell back to the defaults)."""


def _check_strategy(
    exchange: ExchangeSettings, strategy: StrategySettings, risk: RiskSettings, *, at: str
) -> None:
    """The hedge grid needs hedge mode, exchange stops and a stop beyond its deepest level
    (`stop_mode = "bot"` was accepted and ignored: found by review); hedge mode is only
    for the grid (the one-way core's orders name no position side)."""
    if strategy.name == "hedge_grid":
        if not exchange.hedge_mode:
            raise _cross(
                f"{at}exchange.hedge_mode",
                'must be true when strategy.name = "hedge_grid" '
                "(the grid holds a long and a short at once)",
            )
        if exchange.stop_mode == "bot":
            raise _cross(
                f"{at}exchange.stop_mode",
                'must be "exchange" when strategy.name = "hedge_grid" (each leg\'s stop rests '
                'on the exchange; the bot-held stop is for the one-way style)',
            )
        g = strategy.grid
        # levels compound (each is step_pct from the leg's last fill): the short leg's deepest
        # is the farther one, (1 + step)**levels - 1 above its opening price (the long's,
        # 1 - (1 - step)**levels below it, is nearer)
        deepest = ((1 + g.step_pct / 100) ** g.levels - 1) * 100
        if risk.stop_loss_pct <= deepest:
            raise _cross(
                f"{at}risk.stop_loss_pct",
                f"must be > {deepest.quantize(Decimal('0.0001'), rounding=ROUND_UP)} for the "
                'hedge grid (strategy.name = "hedge_grid"), the short leg\'s deepest level '
                "((1 + strategy.grid.step_pct/100) ** strategy.grid.levels - 1, in %: levels "
                "compound from each fill), so the stop sits beyond every level "
                f"(got {risk.stop_loss_pct})",
            )
    elif exchange.hedge_mode:
        raise _cross(
            f"{at}exchange.hedge_mode",
            f'is only supported with strategy.name = "hedge_grid" (got "{strategy.name}")',
        )


def _check_price_age(exchange: ExchangeSettings, risk: RiskSettings, *, at: str) -> None:
    """A healthy feed prices each symbol at least every poll (REST), or, streamed, within
    stream_symbol_silent_s plus a poll (a quiet symbol's REST price): a max price age below
    that skipped every external entry on a quiet symbol of a working feed as stale."""
    bound = exchange.poll_interval_s + (exchange.stream_symbol_silent_s if exchange.streams
                                        else 0.0)
    if risk.max_price_age_s <= bound:
        raise _cross(
            f"{at}risk.max_price_age_s",
            f"must be > {bound:g}, the longest a working feed leaves a symbol without a price "
            f"(exchange.stream_symbol_silent_s + exchange.poll_interval_s, or the poll "
            f"interval alone with exchange.streams = false) (got {risk.max_price_age_s:g})",
        )


def _check_prices(
    paper: PaperSettings, symbols: SymbolsSettings, *, extra_ok: bool, at: str
) -> None:
    """paper.csv_files against the symbols it must cover; ``at`` prefixes the error's key."""
    if paper.price_source == "csv":
        if not paper.csv_files:
            raise _cross(
                f"{at}paper.csv_files",
                'must list a file per symbol when paper.price_source = "csv"',
            )
        missing = [s for s in symbols.list if s not in paper.csv_files]
        if missing:
            detail = f'missing an entry for "{missing[0]}" (every symbol needs one)'
            raise _cross(f"{at}paper.csv_files", detail)
        if (
            paper.step_ms < CSV_MIN_STEP_MS
        ):  # a candle is replayed as 4 points (open, high, low, close)
            raise _cross(
                f"{at}paper.step_ms",
                f'must be >= {CSV_MIN_STEP_MS} with paper.price_source = "csv" '
                f"(4 price points per candle) (got {paper.step_ms})",
            )
    extra = [s for s in paper.csv_files if s not in symbols.list]
    if extra and not extra_ok:
        raise _cross(f"{at}paper.csv_files", f'"{extra[0]}" is not in symbols.list')


def _check_capital(mode: str, protections: ProtectionsSettings, *, at: str) -> None:
    """In live mode a limit in % needs the account's capital: the paper balance it would
    otherwise be taken of is no real account's."""
    if mode != "live" or protections.capital_usdt is not None:
        return
    for key in ("daily_loss_limit_pct", "max_drawdown_pct"):
        if getattr(protections, key) is not None:
            raise _cross(
                f"{at}protections.{key}",
                f'needs {at}protections.capital_usdt when bot.mode = "live"',
            )


def _check_stream_host(mode: str, exchange: ExchangeSettings, *, at: str) -> None:
    """A stream host without an API host: in live mode the streams would sign in with the API
    keys at that host (an emulator, a proxy, a typo) while REST orders go to the real venue;
    in dry-run its prices would drive the simulation of the real venue. Paper uses neither."""
    if mode in ("live", "dry-run") and exchange.ws_url and not exchange.api_url:
        raise _cross(
            f"{at}exchange.ws_url",
            f"is set while {at}exchange.api_url is empty: the streams would go to that host "
            "(live: signed in with the API keys) and REST to the real venue; set "
            f"{at}exchange.api_url to the same emulator or proxy, or leave ws_url empty",
        )


class AccountSettings(_Section):
    """One ``[[accounts]]`` entry: an account with its own exchange (and keys), symbols,
    strategy, risk, supervision and paper settings. The section types are the top-level ones,
    so a key added to a section is accepted per account too."""

    name: Str = Field(pattern=ACCOUNT_NAME, description=ACCOUNT_NAME_TEXT)
    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    symbols: SymbolsSettings
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    supervision: SupervisionSettings = Field(default_factory=SupervisionSettings)
    paper: PaperSettings = Field(default_factory=PaperSettings)
    protections: ProtectionsSettings = Field(default_factory=ProtectionsSettings)


def _check_ports(signals: SignalsSettings, dashboard: DashboardSettings) -> None:
    """The signal endpoint and the dashboard on one address and port: the second could not
    listen (found by review: "signals.port: cannot listen ... Address already in use", as if
    another program held it)."""
    wildcard = ("", "0.0.0.0", "::")
    if (signals.enabled and signals.http_enabled and dashboard.enabled and signals.port
            and signals.port == dashboard.port
            and (signals.host == dashboard.host or signals.host in wildcard
                 or dashboard.host in wildcard)):
        raise _cross("signals.port", f"is dashboard.port too ({dashboard.port}): the signal "
                     "endpoint and the dashboard need a port each")


class Settings(_Section):
    bot: BotSettings = Field(default_factory=BotSettings)
    exchange: ExchangeSettings = Field(default_factory=ExchangeSettings)
    symbols: SymbolsSettings | None = None
    """Required without ``[[accounts]]``; with them, the list accounts inherit unless they give
    one."""

    @property
    def symbol_list(self) -> tuple[str, ...]:
        """The traded symbols (validation guarantees them for a runnable account's settings)."""
        if self.symbols is None:
            raise ValueError("symbols.list: no symbols configured")
        return self.symbols.list
    strategy: StrategySettings = Field(default_factory=StrategySettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    supervision: SupervisionSettings = Field(default_factory=SupervisionSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    paper: PaperSettings = Field(default_factory=PaperSettings)
    signals: SignalsSettings = Field(default_factory=SignalsSettings)
    protections: ProtectionsSettings = Field(default_factory=ProtectionsSettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)
    accounts: Annotated[tuple[AccountSettings, ...], ARRAY] = Field(
        default=(), min_length=1, max_length=MAX_ACCOUNTS
    )

    # Directory that relative paths in the file are resolved against (the config file's folder).
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="before")
    @classmethod
    def _inherit_into_accounts(cls, data: Any) -> Any:
        """Each account's sections start from the top-level ones: keys an account gives replace
        the top-level keys (a symbol -> file table such as paper.csv_files is replaced whole;
        the settings table strategy.grid key by key, as a section), the rest are kept."""
        if not isinstance(data, dict) or not isinstance(data.get("accounts"), list):
            return data
        merged = []
        for entry in data["accounts"]:
            if isinstance(entry, dict):
                entry = dict(entry)
                for section in ACCOUNT_SECTIONS:
                    top, own = data.get(section), entry.get(section)
                    if isinstance(top, dict) and (own is None or isinstance(own, dict)):
                        entry[section] = {**top, **(own or {})}
                        for table in _KEYED_TABLES.get(section, ()):  # found by review
                            top_t, own_t = top.get(table), (own or {}).get(table)
                            if isinstance(top_t, dict) and isinstance(own_t, dict):
                                entry[section][table] = {**top_t, **own_t}
            merged.append(entry)
        return {**data, "accounts": merged}

    @model_validator(mode="after")
    def _cross_section(self) -> Settings:
        _check_ports(self.signals, self.dashboard)
        if not self.accounts:
            if self.symbols is None:
                raise _cross("symbols", "required section is missing")
            if self.bot.mode == "live" and self.exchange.id == "paper":
                raise _cross(
                    "exchange.id", 'must be a real ccxt exchange id when bot.mode = "live"'
                )
            _check_prices(self.paper, self.symbols, extra_ok=False, at="")
            _check_strategy(self.exchange, self.strategy, self.risk, at="")
            _check_price_age(self.exchange, self.risk, at="")
            _check_capital(self.bot.mode, self.protections, at="")
            _check_stream_host(self.bot.mode, self.exchange, at="")
            return self
        seen: dict[str, int] = {}
        for index, account in enumerate(self.accounts):
            at = f"accounts[{index}]."
            if account.name in seen:
                raise _cross(
                    f"{at}name",
                    f'duplicate of accounts[{seen[account.name]}].name (got "{account.name}")',
                )
            seen[account.name] = index
            if self.bot.mode == "live" and account.exchange.id == "paper":
                raise _cross(
                    f"{at}exchange.id", 'must be a real ccxt exchange id when bot.mode = "live"'
                )
            _check_prices(account.paper, account.symbols, extra_ok=True, at=at)
            _check_strategy(account.exchange, account.strategy, account.risk, at=at)
            _check_price_age(account.exchange, account.risk, at=at)
            _check_capital(self.bot.mode, account.protections, at=at)
            _check_stream_host(self.bot.mode, account.exchange, at=at)
            if Path(account.paper.store).expanduser().is_absolute():
                raise _cross(
                    f"{at}paper.store",
                    "must be a relative path with [[accounts]] "
                    f"(placed in data_dir/{ACCOUNTS_DIR}/<name>/)",
                )
        if Path(self.storage.path).expanduser().is_absolute():
            raise _cross(
                "storage.path",
                "must be a relative path with [[accounts]] "
                f"(each account's database is data_dir/{ACCOUNTS_DIR}/<name>/<path>)",
            )
        return self

    # -- accounts -------------------------------------------------------------------------------
    @property
    def has_accounts(self) -> bool:
        """True when the file lists ``[[accounts]]`` (per-account layout: accounts/<name>/,
        logs/<name>/); False for the classic single-account file (its layout is unchanged)."""
        return bool(self.accounts)

    def account_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.accounts) if self.accounts else (self.bot.account,)

    def account_settings(self) -> tuple[Settings, ...]:
        """One complete ``Settings`` per account, in file order: the sections an account runs
        with, ``bot.account`` set to its name, and its files (database, paper store, markets
        cache) under data_dir/accounts/<name>/. Without ``[[accounts]]``: ``(self,)``."""
        if not self.accounts:
            return (self,)
        return tuple(self._for_account(a) for a in self.accounts)

    def for_account(self, name: str) -> Settings:
        for settings in self.account_settings():
            if settings.bot.account == name:
                return settings
        raise KeyError(name)

    def _for_account(self, account: AccountSettings) -> Settings:
        def inside(path: str) -> str:
            return (
                path
                if Path(path).expanduser().is_absolute()
                else f"{ACCOUNTS_DIR}/{account.name}/{path}"
            )

        copy = self.model_copy(
            update={
                "bot": self.bot.model_copy(update={"account": account.name}),
                "exchange": account.exchange.model_copy(
                    update={"markets_cache": inside(account.exchange.markets_cache)}
                ),
                "symbols": account.symbols,
                "strategy": account.strategy,
                "risk": account.risk,
                "supervision": account.supervision,
                "protections": account.protections,
                "paper": account.paper.model_copy(update={"store": inside(account.paper.store)}),
                "storage": self.storage.model_copy(update={"path": inside(self.storage.path)}),
                "accounts": (),
            }
        )
        copy._base_dir = self._base_dir
        return copy

    @property
    def base_dir(self) -> Path:
        return self._base_dir

    def data_dir_path(self, override: str | Path | None = None) -> Path:
        """Absolute data directory: ``override`` (relative to the cwd) or ``bot.data_dir``."""
        if override:
            return Path(override).expanduser().absolute()
        return (self._base_dir / Path(self.bot.data_dir).expanduser()).absolute()

    def resolve(self, path_in_data_dir: str | Path) -> Path:
        """``path_in_data_dir`` made absolute: kept if absolute, else placed under the data dir."""
        path = Path(path_in_data_dir).expanduser()
        return path if path.is_absolute() else self.data_dir_path() / path

    def secrets_path(self) -> Path | None:
        """``exchange.secrets_file`` as an absolute path, or None when not configured."""
        name = self.exchange.secrets_file
        return self.resolve_config_path(name) if name else None

    def resolve_config_path(self, path: str | Path) -> Path:
        """A path from the config file (secrets, CSV files), relative to the file's folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else (self._base_dir / candidate).absolute()
