"""The settings sections: one frozen pydantic model per TOML table (``[bot]``, ``[risk]``, ...).

``config.settings`` assembles them into ``Settings`` and re-exports every name defined here.
"""

from __future__ import annotations

import shlex
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from config.section_base import _check_postgres_url, _cross, _Section
from config.service_sections import ClusterSettings as ClusterSettings  # re-exported
from config.service_sections import DashboardSettings as DashboardSettings  # re-exported
from config.service_sections import TelegramSettings as TelegramSettings  # re-exported
from config.types import (
    ARRAY,
    TABLE,
    Bool,
    Dec,
    EnvName,
    Float,
    Int,
    PathStr,
    Str,
    Symbol,
    Url,
    Webhook,
)
from exchange.venue_ids import USE_INSTEAD

# Strategy names accepted by ``strategy.name``; register new strategies here (name -> summary).
KNOWN_STRATEGIES: dict[str, str] = {
    "mean_reversion": "rolling z-score of prices; enter when |z| > entry_z, exit when |z| < exit_z",
    "hedge_grid": "a long and a short leg at once (exchange hedge mode), averaging at grid levels, "
    "take-profit per leg, then reopen",
}
ACCOUNT_NAME = r"^[a-z0-9_]{1,12}$"
ACCOUNT_NAME_TEXT = "1..12 characters of a-z, 0-9, _"
ACCOUNT_SECTIONS = (
    "exchange",
    "symbols",
    "strategy",
    "risk",
    "supervision",
    "paper",
    "protections",
)
"""Sections an ``[[accounts]]`` entry may give; the ones it leaves out (and the keys it leaves
out of the ones it gives) come from the top-level section of the same name."""
ACCOUNTS_DIR = "accounts"
"""With ``[[accounts]]``, each account's database and paper store live in
data_dir/accounts/<name>/."""
MAX_ACCOUNTS = 64
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL")
MAX_SYMBOLS = 5000
CSV_MIN_STEP_MS = 4
MAX_ROTATE_MB = 1_048_576
"""logging.rotate_mb's cap (1 TiB): a larger value overflowed the file size limit's int and
stopped `run` with "unexpected OverflowError" instead of a line naming the key."""
MAX_ORDER_SIZE_USDT = 10_000_000
"""risk.order_size_usdt's cap (10 M USDT per entry, 100,000 times the default): far above any
size this bot is run with, far below a typo or unit mix-up (1e12) that must never be sent."""


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


class BotSettings(_Section):
    mode: Literal["paper", "live", "dry-run"] = "paper"
    data_dir: PathStr = Field(default="data", min_length=1)
    account: Str = Field(default="main", pattern=ACCOUNT_NAME, description=ACCOUNT_NAME_TEXT)
    status_interval_s: Float = Field(default=1.0, ge=0.1, le=60)
    version: Str = ""
    # latency: the interpreter's thread switch interval, set at startup (runtime/interpreter.py)
    switch_interval_ms: Float = Field(default=5.0, ge=0.05, le=100)
    # latency: quiet-band wakes spread over time by one pacer thread (actors/wake_pacer.py)
    pace_quiet_wakes: Bool = True


class ExchangeSettings(_Section):
    id: Str = "paper"
    api_key_env: EnvName = "BOT_API_KEY"
    api_secret_env: EnvName = "BOT_API_SECRET"
    secrets_file: PathStr = ""
    sandbox: Bool = False
    demo: Bool = False
    hedge_mode: Bool = False
    stop_mode: Literal["exchange", "bot"] = "exchange"
    markets_cache: PathStr = Field(default="markets.json", min_length=1)
    poll_interval_s: Float = Field(default=0.5, ge=0.05, le=60)
    timeout_ms: Int = Field(default=10000, ge=100, le=600_000)
    rate_limit_per_s: Float = Field(default=0.0, ge=0)
    # -- rate budget (issue 12, exchange/budget*.py): the venue's own limits, in its units --
    rate_budget_share: Float = Field(default=0.5, gt=0, le=1)
    entry_max_wait_s: Float = Field(default=2.0, ge=0, le=60)
    api_url: Str = Field(
        default="",
        pattern=r"^(https?://[^/\s]+)?$",
        description='"" or http(s)://host[:port] replacing the exchange API host (tests, proxies)',
    )
    # -- streams (actors/stream_feed.py): WebSocket prices, orders and fills; REST fallback --
    streams: Bool = True
    """live takes prices, orders and fills from the venue's streams, dry-run prices."""
    stream_stale_s: Float = Field(default=10.0, ge=0.5, le=300)
    """A connected stream silent this long counts as down: REST polling takes over."""
    stream_symbol_silent_s: Float = Field(default=60.0, ge=1, le=3600)
    """One symbol without a streamed price this long while the stream is up gets its price
    from REST at the poll pace until the stream carries it again (>= stream_stale_s)."""
    ws_url: Str = Field(
        default="",
        pattern=r"^(wss?://[^/\s]+)?$",
        description='"" or ws(s)://host[:port] replacing the exchange stream host (tests)',
    )

    @field_validator("id")
    @classmethod
    def _known_exchange(cls, value: str) -> str:
        if value == "paper":
            return value
        import ccxt  # deferred: importing ccxt takes a while and paper mode never needs it

        if value not in ccxt.exchanges:
            near = value.strip().lower()  # ids are lower case: "Bybit" named no "bybit"
            known = near == "paper" or near in ccxt.exchanges
            hint = f'; did you mean "{near}"?' if known else ""
            raise PydanticCustomError(
                "bad_exchange",
                'must be "paper" or a ccxt exchange id such as "bybit", "binanceusdm"{hint}',
                {"hint": hint},
            )
        if value in USE_INSTEAD:  # before any other check of the venue's settings
            raise PydanticCustomError(
                "other_exchange_id",
                'must be "{instead}" for this venue\'s linear perpetuals',
                {"instead": USE_INSTEAD[value]},
            )
        return value

    @field_validator("api_url", "ws_url")
    @classmethod
    def _no_userinfo(cls, value: str) -> str:
        # ccxt puts the URL in its errors, so a password here would reach every log line
        if "@" in value:
            raise PydanticCustomError(
                "url_userinfo",
                "must not hold a user name or password: it would show in every exchange error "
                "and log line",
            )
        return value

    @model_validator(mode="after")
    def _sandbox_or_demo(self) -> ExchangeSettings:
        if self.sandbox and self.demo:
            raise _cross("demo", "cannot be combined with exchange.sandbox (pick one)")
        if self.stream_symbol_silent_s < self.stream_stale_s:
            raise _cross("stream_symbol_silent_s",
                         f"must be >= exchange.stream_stale_s ({self.stream_stale_s}) "
                         f"(got {self.stream_symbol_silent_s}); a whole stream that quiet "
                         "already counts as down")
        return self


class SymbolsSettings(_Section):
    list: Annotated[tuple[Symbol, ...], ARRAY] = Field(min_length=1, max_length=MAX_SYMBOLS)

    @field_validator("list")
    @classmethod
    def _unique(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        first_seen: dict[str, int] = {}
        for index, symbol in enumerate(value):
            if symbol in first_seen:
                raise _cross(
                    f"[{index}]",
                    f'duplicate of symbols.list[{first_seen[symbol]}] (got "{symbol}")',
                )
            first_seen[symbol] = index
        return value


class GridSettings(_Section):
    """`[strategy.grid]`: the hedge grid (strategy.name = "hedge_grid")."""

    levels: Int = Field(default=4, ge=0, le=50)
    step_pct: Dec = Field(default=Decimal("1.0"), gt=0, lt=50)
    size_multiplier: Dec = Field(default=Decimal("1.0"), gt=0, le=10)
    take_profit_pct: Dec = Field(default=Decimal("0.6"), gt=0, le=50)
    recalc_pct: Dec = Field(default=Decimal("2.0"), gt=0, le=50)

    @model_validator(mode="after")
    def _recalc_beyond_step(self) -> GridSettings:
        if self.recalc_pct <= self.step_pct:
            raise _cross(
                "recalc_pct",
                f"must be > strategy.grid.step_pct ({self.step_pct}) (got {self.recalc_pct}); "
                "otherwise a pending level chases the price before it can fill",
            )
        return self


class StrategySettings(_Section):
    name: Str = "mean_reversion"
    window: Int = Field(default=40, ge=5, le=10000)
    entry_z: Float = Field(default=2.0, gt=0)
    exit_z: Float = Field(default=0.3, ge=0)
    min_volatility_pct: Dec = Field(default=Decimal("0.005"), ge=0)
    min_volume: Dec = Field(default=Decimal(0), ge=0)
    allow_short: Bool = True
    grid: GridSettings = Field(default_factory=GridSettings)

    @field_validator("name")
    @classmethod
    def _registered(cls, value: str) -> str:
        if value not in KNOWN_STRATEGIES:
            allowed = ", ".join(f'"{name}"' for name in sorted(KNOWN_STRATEGIES))
            raise PydanticCustomError(
                "bad_strategy", "must be one of {allowed}", {"allowed": allowed}
            )
        return value

    @model_validator(mode="after")
    def _exit_below_entry(self) -> StrategySettings:
        if self.exit_z >= self.entry_z:
            detail = f"must be < strategy.entry_z ({self.entry_z}) (got {self.exit_z})"
            raise _cross("exit_z", detail)
        return self


class RiskSettings(_Section):
    order_size_usdt: Dec = Field(default=Decimal(100), gt=0, le=MAX_ORDER_SIZE_USDT)
    leverage: Int = Field(default=5, ge=1, le=125)
    stop_loss_pct: Dec = Field(default=Decimal("1.0"), gt=0, le=50)
    trailing_activation_pct: Dec = Field(default=Decimal("0.5"), ge=0, lt=100)
    trailing_callback_pct: Dec = Field(default=Decimal("0.3"), gt=0, le=50)
    trailing_step_pct: Dec = Field(default=Decimal("0.1"), ge=0)
    take_profit_pct: Dec | None = Field(default=None, gt=0, lt=100)
    cooldown_after_loss_s: Float = Field(default=120.0, ge=0)
    max_open_positions: Int = Field(default=20, ge=1)
    max_price_age_s: Float = Field(default=120.0, ge=1, le=86400)
    """An entry is sized from the symbol's last price only when it was read within this long
    (trading/decide.py `_stale_price`): after a feed outage, not on the price from before it."""


class SupervisionSettings(_Section):
    heartbeat_interval_s: Float = Field(default=1.0, gt=0, le=3600)
    """At most an hour: the supervisor waits up to this in a blocking queue read, and beyond
    the platform's timeout limit (threading.TIMEOUT_MAX, ~292 years) every wait raised, so it
    logged thousands of tracebacks a second and supervised nothing."""
    heartbeat_timeout_s: Float = Field(default=5.0, gt=0)
    mailbox_max: Int = Field(default=10000, ge=1)
    max_restarts: Int = Field(default=5, ge=0)
    restart_period_s: Float = Field(default=60.0, gt=0)
    backoff_initial_s: Float = Field(default=0.5, gt=0)
    backoff_max_s: Float = Field(default=30.0, gt=0)
    stable_after_s: Float = Field(default=120.0, ge=0)
    worker_start_timeout_s: Float = Field(default=300.0, ge=1, le=86400)
    """`run --workers N`: a worker process that has not finished starting (no first heartbeat)
    this long after its spawn is hung: alert, stop, restart (runtime/workers.py)."""
    max_close_attempts: Int = Field(default=5, ge=1, le=100)
    close_backoff_initial_s: Float = Field(default=1.0, gt=0)
    close_backoff_max_s: Float = Field(default=60.0, gt=0)
    kill_switch_escalations: Int = Field(default=3, ge=1)
    """MORE than this many distinct symbols escalating within `kill_switch_window_s` trip the
    kill switch (3: the fourth one; supervision/escalation.py)."""
    kill_switch_window_s: Float = Field(default=600.0, gt=0)
    alert_command: Str = ""
    alert_webhook: Webhook = Field(
        default="", pattern=r"^(https?://\S+)?$", description='an http(s):// URL or ""'
    )
    adopt_unknown_positions: Bool = True
    reconcile_interval_s: Float = Field(default=30.0, ge=1, le=86400)
    # -- issue 12 (protect): the stop watch (actors/stop_watch.py) --------------------------
    stop_check_interval_s: Float = Field(default=1.0, ge=0, le=60)
    """Seconds between looks at each open position's exchange stop (one call per stop);
    0 turns the watch off (then a removed stop is found at the next reconciliation)."""
    # -- issue 12 (REST cost): while the venue's private streams are up --------------------
    stop_check_streamed_interval_s: Float = Field(default=60.0, ge=1, le=3600)
    """The stop watch's pace while the order stream reports cancels itself (never faster than
    `stop_check_interval_s`)."""
    streamed_reconcile_interval_s: Float = Field(default=300.0, ge=1, le=86400)
    """Seconds between reconciliations of a symbol holding a position or orders while the
    streams are up (never more often than `reconcile_interval_s`); flat symbols are then left
    to the streams and the sweep."""
    sweep_interval_s: Float = Field(default=300.0, ge=10, le=86400)
    """Seconds between all-symbol looks for positions and orders no actor holds while the
    streams are up (live mode; while they are down or off: every `reconcile_interval_s`)."""

    @field_validator("alert_command")
    @classmethod
    def _splittable(cls, value: str) -> str:
        """Split as the alert hook splits it (supervision/hook_calls.py), so a command that cannot
        run is refused now, not found at the first alert. The message never quotes it (it may
        hold a key)."""
        if not value:
            return value
        try:
            argv = shlex.split(value)
        except ValueError:
            raise PydanticCustomError(
                "bad_command", "cannot be split like a shell line (an unclosed quote or a "
                "trailing backslash)") from None
        if not argv:
            raise PydanticCustomError("bad_command", 'names no program (use "" for none)')
        return value

    @model_validator(mode="after")
    def _ordering(self) -> SupervisionSettings:
        pairs = (
            ("heartbeat_timeout_s", "heartbeat_interval_s", False),
            ("backoff_max_s", "backoff_initial_s", True),
            ("close_backoff_max_s", "close_backoff_initial_s", True),
        )
        for big, small, equal_ok in pairs:
            got, floor = getattr(self, big), getattr(self, small)
            if got < floor or (got == floor and not equal_ok):
                op = ">=" if equal_ok else ">"
                raise _cross(big, f"must be {op} supervision.{small} ({floor}) (got {got})")
        return self


class StorageSettings(_Section):
    path: PathStr = Field(default="bot.sqlite", min_length=1)
    synchronous: Literal["full", "normal"] = "full"
    # -- PostgreSQL storage (storage/database.py): "" keeps SQLite at `path` --
    url: Str = ""

    @model_validator(mode="after")
    def _url(self) -> StorageSettings:
        _check_postgres_url("url", self.url)
        return self


class LoggingSettings(_Section):
    level: Annotated[Literal[LOG_LEVELS], BeforeValidator(_upper)] = "INFO"  # type: ignore
    console: Bool = True
    rotate_mb: Float = Field(default=20.0, gt=0, le=MAX_ROTATE_MB)
    retention: Int = Field(default=5, ge=1, le=1000)
    max_total_mb: Float = Field(default=4096.0, ge=0, le=MAX_ROTATE_MB)  # 0: no cap; log_budget.py

    @model_validator(mode="after")
    def _total_holds_a_rotation(self) -> LoggingSettings:
        if 0 < self.max_total_mb < self.rotate_mb:  # it would keep no rotated file at all
            default = "" if "max_total_mb" in self.model_fields_set else ", the default"
            raise _cross("max_total_mb", f"must be 0 (no cap) or >= logging.rotate_mb "
                         f"({self.rotate_mb:.15g}) (got {self.max_total_mb:.15g}{default})")
        return self

    @property
    def rotate_bytes(self) -> int:
        return max(1, int(self.rotate_mb * 2**20))

    @property
    def max_total_bytes(self) -> int:
        """0: no cap."""
        return max(1, int(self.max_total_mb * 2**20)) if self.max_total_mb else 0


class PaperSettings(_Section):
    starting_balance_usdt: Dec = Field(default=Decimal(10000), gt=0)
    latency_ms: Int = Field(default=20, ge=0, le=10000)
    taker_fee: Dec = Field(default=Decimal("0.00055"), ge=0, lt=1)
    maker_fee: Dec = Field(default=Decimal("0.0002"), ge=Decimal("-0.01"), lt=1)
    slippage_bps: Dec = Field(default=Decimal(1), ge=0, le=10000)
    price_source: Literal["generator", "csv"] = "generator"
    seed: Int = 7
    step_ms: Int = Field(default=250, ge=1, le=60000)
    speed: Float = Field(default=60.0, gt=0)
    csv_files: Annotated[dict[Symbol, PathStr], TABLE] = Field(default_factory=dict)
    store: PathStr = Field(default="paper_exchange.sqlite", min_length=1)


class SignalsSettings(_Section):
    enabled: Bool = False
    http_enabled: Bool = True
    host: Str = "127.0.0.1"
    port: Int = Field(default=8787, ge=0, le=65535)
    path: Str = Field(default="/signals", pattern=r"^/\S*$",
                      description='a URL path starting with "/", without spaces')
    token_env: EnvName = "BOT_SIGNAL_TOKEN"
    websocket_url: Url = Field(default="", pattern=r"^(wss?://\S+)?$",
                               description='a ws:// or wss:// URL, or "" for none')
    websocket_token_env: EnvName = ""
    max_per_wave: Int = Field(default=20, ge=1)
    wave_window_s: Float = Field(default=2.0, gt=0, le=3600)
    max_open_positions: Int = Field(default=0, ge=0)
    entry_reserve_s: Float = Field(default=10.0, gt=0)
    max_age_s: Float = Field(default=30.0, gt=0, le=3600)
    max_size_usdt: Dec | None = Field(default=None, gt=0)
    max_body_bytes: Int = Field(default=65536, ge=256, le=1_048_576)
    reconnect_initial_s: Float = Field(default=0.5, gt=0)
    reconnect_max_s: Float = Field(default=30.0, gt=0)
    reconnect_jitter: Float = Field(default=0.2, ge=0, lt=1)

    @model_validator(mode="after")
    def _reconnect_order(self) -> SignalsSettings:
        """Also what `run` checked only while starting, without the file and line (found by
        review): a receiver listening nowhere, an endpoint without a token variable."""
        if self.enabled and not self.http_enabled and not self.websocket_url:
            raise _cross("http_enabled", "is false and signals.websocket_url is empty while "
                         "signals.enabled = true: the receiver would listen nowhere; enable one "
                         "(or signals.enabled = false)")
        if self.enabled and self.http_enabled and not self.token_env:
            raise _cross("token_env", "is empty while signals.http_enabled = true; name the "
                         "environment variable that holds the signal token (the endpoint "
                         "never runs without one)")
        if self.reconnect_max_s < self.reconnect_initial_s:
            raise _cross(
                "reconnect_max_s",
                f"must be >= signals.reconnect_initial_s "
                f"({self.reconnect_initial_s}) (got {self.reconnect_max_s})",
            )
        return self


class ProtectionsSettings(_Section):
    """`[protections]`: account-level entry refusals fed from the ledger (protections/)."""

    daily_loss_limit_usdt: Dec | None = Field(default=None, gt=0)
    """Realized net loss (fees included) since 00:00 UTC that stops new entries for the day."""
    daily_loss_limit_pct: Dec | None = Field(default=None, gt=0, le=100)
    """The same as a percentage of ``capital_usdt``."""
    max_drawdown_usdt: Dec | None = Field(default=None, gt=0)
    """Fall of the ledger's equity from its peak that stops new entries until a person resets."""
    max_drawdown_pct: Dec | None = Field(default=None, gt=0, le=100)
    capital_usdt: Dec | None = Field(default=None, gt=0)
    """Base for the percentages (default: paper.starting_balance_usdt; a limit in % needs it
    when bot.mode = "live", see ``config.settings._check_capital``)."""
    stoploss_guard_count: Int = Field(default=0, ge=0, le=1000)
    """N stop-outs of one symbol within the window pause that symbol (0 = off)."""
    stoploss_guard_window_s: Float = Field(default=3600.0, gt=0)
    stoploss_guard_pause_s: Float = Field(default=3600.0, gt=0)
