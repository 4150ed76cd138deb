"""Assembling the receiver for the running bot: config, token, router, HTTP server, WebSocket
client. Storage is reached only through the injected callables (`journal`, `seen`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from config.errors import ConfigError
from dashboard.auth import LOOPBACK, MIN_TOKEN_CHARS
from signals.accounts import AccountDispatcher
from signals.backoff import Backoff
from signals.http_server import SignalHttpServer
from signals.limits import OpenPositionGate, WaveLimiter
from signals.reject_throttle import RejectionThrottle
from signals.router import MAX_AGE_S, Deliver, Journal, SignalRouter
from signals.ws_client import SignalWebSocketClient


@dataclass(frozen=True, kw_only=True)
class SignalsConfig:
    """The `[signals]` section."""

    enabled: bool = False
    http_enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8787
    path: str = "/signals"
    token_env: str = "BOT_SIGNAL_TOKEN"
    websocket_url: str = ""
    websocket_token_env: str = ""
    """Token sent to the WebSocket server as a Bearer header; "" sends none."""
    max_per_wave: int = 20
    wave_window_s: float = 2.0
    max_open_positions: int = 0
    """0: use risk.max_open_positions."""
    entry_reserve_s: float = 10.0
    max_age_s: float = MAX_AGE_S
    """A signal lives this long from its arrival unless its own `expires_at` is sooner."""
    max_size_usdt: Decimal | None = None
    max_body_bytes: int = 65536
    reconnect_initial_s: float = 0.5
    reconnect_max_s: float = 30.0
    reconnect_jitter: float = 0.2

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> SignalsConfig:
        """From `settings.signals.model_dump()` (or any mapping with these keys)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"signals.{unknown[0]}: unknown key")
        data = dict(values)
        if data.get("max_size_usdt") is not None:
            data["max_size_usdt"] = Decimal(str(data["max_size_usdt"]))
        return cls(**data)


def env_token(env_name: str, environ: Mapping[str, str], key: str) -> str:
    token = environ.get(env_name, "").strip() if env_name else ""
    if not token:
        if not env_name:
            raise ConfigError(f"{key}: is empty; name the environment variable that holds the "
                              "signal token (the endpoint never runs without one)")
        raise ConfigError(f"{key}: environment variable {env_name} must hold the token")
    return token


REJECT_RECORD_INTERVAL_S = 1.0
"""The running bot journals and logs at most one rejected signal per second in full; the others
are answered, counted and summarised (signals/reject_throttle.py)."""


class SignalServices:
    """The router plus whichever transports are configured; start/stop them together. While
    they run, the rejections the throttle holds back are recorded every `flush_interval_s`
    (found by review: their summary waited for the next recorded rejection or the stop, hours
    later or never after a kill, so a flood showed as one rejection)."""

    def __init__(
        self, router: Any, http: SignalHttpServer | None, websocket: SignalWebSocketClient | None,
        flush_interval_s: float = REJECT_RECORD_INTERVAL_S,
    ) -> None:
        self.router = router
        self.http = http
        self.websocket = websocket
        self.flush_interval_s = flush_interval_s
        self.started = False
        """start() ran (the bot may stop before it starts the receiver)."""
        self._stopping = threading.Event()
        self._flusher = threading.Thread(target=self._flush_loop, name="signal-rejections",
                                         daemon=True)

    def start(self) -> None:
        self.started = True
        if self.http is not None:
            self.http.start()
        if self.websocket is not None:
            self.websocket.start()
        self._flusher.start()

    def _flush_loop(self) -> None:
        while not self._stopping.wait(self.flush_interval_s):
            self._flush(due_only=True)

    def _flush(self, *, due_only: bool = False) -> None:
        flush = getattr(self.router, "flush_rejections", None)
        if flush is not None:
            flush(due_only)

    def stop(self, timeout_s: float = 5.0) -> bool:
        """True when every transport stopped within `timeout_s` each."""
        stop_waiting = getattr(self.router, "stop_waiting", None)
        if stop_waiting is not None:  # a signal waiting for a starting actor is answered now
            stop_waiting()
        ok = True
        if self.websocket is not None:
            ok = self.websocket.stop(timeout_s) and ok
        if self.http is not None:
            ok = self.http.stop(timeout_s) and ok
        self._stopping.set()
        if self._flusher.is_alive():
            self._flusher.join(timeout_s)
        self._flush()  # the count of a flood's last interval is not lost
        return ok


def build_signal_services(
    config: SignalsConfig,
    *,
    symbols: Collection[str],
    deliver: Deliver,
    journal: Journal,
    seen: Callable[[str], bool],
    open_positions: Callable[[], int],
    max_open_positions: int,
    logger: Any,
    environ: Mapping[str, str] | None = None,
) -> SignalServices:
    """Build (not start) the receiver. The HTTP port is bound here, so a missing token or a port
    in use is a one-line `ConfigError` at startup rather than a silently missing endpoint."""
    account = SignalAccount(
        name="",
        symbols=tuple(symbols),
        deliver=deliver,
        journal=journal,
        seen=seen,
        open_positions=open_positions,
        max_open_positions=max_open_positions,
    )
    return _transports(
        config, _router(config, account, logger), logger, os.environ if environ is None else environ
    )


@dataclass(frozen=True, kw_only=True)
class SignalAccount:
    """What the receiver needs of one account: its symbols, delivery, journal and limits."""

    name: str
    symbols: tuple[str, ...]
    deliver: Deliver
    journal: Journal
    seen: Callable[[str], bool]
    open_positions: Callable[[], int]
    max_open_positions: int
    """The account's risk.max_open_positions (used when signals.max_open_positions is 0)."""
    held: Callable[[], Mapping[str, int]] | None = None
    """What the account's entry gate counts per symbol (`AccountGate.held`), so a reservation
    is counted until its actor counts it (signals/limits.py OpenPositionGate)."""
    bounded: Callable[[float], AbstractContextManager[Any]] | None = None
    """storage.writer.writes_within: the journal and delivery writes wait what is left of
    signals.max_age_s, not the writer's 60 s each (None: unbounded, as a test's fakes)."""
    log: Any = None
    """The account's own logger (bound with its name when the bot has several accounts), for
    its router's lines; None: the receiver's."""
    actor_state: Callable[[str], str | None] | None = None
    """A symbol's actor state (supervision.child.ChildState value): a signal for one still
    starting waits for it (signals/router.py `_await_actor`); None: never waits."""


def build_account_signal_services(
    config: SignalsConfig,
    *,
    accounts: Sequence[SignalAccount],
    logger: Any,
    environ: Mapping[str, str] | None = None,
) -> SignalServices:
    """One receiver for the whole bot; each account has its own router (journal, duplicates,
    wave and open-position limits) and signals go to the account that trades their symbol, or
    to the one they name in ``account`` (see signals.accounts)."""
    routers = {a.name: _router(config, a, logger if a.log is None else a.log) for a in accounts}
    return _transports(
        config,
        AccountDispatcher(routers, logger),
        logger,
        os.environ if environ is None else environ,
    )


def _router(config: SignalsConfig, account: SignalAccount, logger: Any) -> SignalRouter:
    limit = config.max_open_positions or account.max_open_positions
    return SignalRouter(
        throttle=RejectionThrottle(REJECT_RECORD_INTERVAL_S),
        symbols=account.symbols,
        deliver=account.deliver,
        journal=account.journal,
        seen=account.seen,
        logger=logger,
        wave=WaveLimiter(config.max_per_wave, config.wave_window_s),
        positions=OpenPositionGate(limit, account.open_positions, config.entry_reserve_s,
                                   held=account.held),
        max_size_usdt=config.max_size_usdt,
        max_age_s=config.max_age_s,
        bounded=account.bounded,
        actor_state=account.actor_state,
    )


def _check_exposed_token(config: SignalsConfig, token: str) -> None:
    """Beyond loopback the token needs the dashboard's least length: signals open positions,
    and the endpoint has no wrong-token backoff (on loopback a backoff would let any local
    process lock out the real sender's exits)."""
    if len(token) < MIN_TOKEN_CHARS:
        raise ConfigError(
            f"signals.token_env: {config.token_env} holds {len(token)} characters; the endpoint "
            f"listens on {config.host} (beyond loopback), which needs a token of at least "
            f"{MIN_TOKEN_CHARS}")


def _transports(
    config: SignalsConfig, router: Any, logger: Any, env: Mapping[str, str]
) -> SignalServices:
    if not config.http_enabled and not config.websocket_url:
        raise ConfigError("signals.http_enabled: false and signals.websocket_url is empty: the "
                          "receiver would listen nowhere; enable one (or signals.enabled = false)")
    http = None
    if config.http_enabled:
        token = env_token(config.token_env, env, "signals.token_env")
        if config.host not in LOOPBACK:
            _check_exposed_token(config, token)
            logger.warning("signal endpoint binds {}: the token travels in plain HTTP", config.host)
        try:
            http = SignalHttpServer(
                router=router,
                token=token,
                logger=logger,
                host=config.host,
                port=config.port,
                path=config.path,
                max_body_bytes=config.max_body_bytes,
            )
        except OSError as exc:
            raise ConfigError(
                f"signals.port: cannot listen on {config.host}:{config.port} ({exc})"
            ) from exc
    websocket = None
    if config.websocket_url:
        ws_token = (
            env_token(config.websocket_token_env, env, "signals.websocket_token_env")
            if config.websocket_token_env
            else None
        )
        websocket = SignalWebSocketClient(
            url=config.websocket_url,
            handle=router.handle_raw,
            logger=logger,
            token=ws_token,
            backoff=Backoff(
                config.reconnect_initial_s, config.reconnect_max_s, jitter=config.reconnect_jitter
            ),
        )
    return SignalServices(router, http, websocket)


def repository_journal(repo: Any) -> Journal:
    """`journal` for the bot: one journal event through `Repository.record` (blocks until
    committed)."""

    def journal(symbol: str, type_: str, data: dict[str, Any], correlation_id: str) -> None:
        repo.record(symbol, type_, data, correlation_id=correlation_id)

    return journal


def open_positions_from_views(views: Mapping[str, Any]) -> Callable[[], int]:
    """`open_positions` from the actors' published states: a one-way symbol that is not flat
    counts one (entering too), a hedge-grid symbol its open legs. The bot counts the account
    gate's positions instead (runtime/account.py `signal_account`)."""

    def count() -> int:
        return sum(_held(entry) for entry in list(views.values()))

    return count


def _held(entry: Any) -> int:
    state = None if entry is None else entry.state
    if state is None:
        return 0
    phase = getattr(state, "phase", None)
    if phase is not None:  # one-way
        return 0 if phase.value == "flat" else 1
    return sum(1 for leg in (state.long, state.short) if leg.is_open)  # hedge grid
