"""The operator's services of one running bot: per-account protections are built with each
account (runtime/account.py); this adds the metrics registry, the dashboard server and Telegram,
and the run loop's ``tick`` for the guards. ``bot.py`` (runtime/runner.py) builds it after the
accounts, starts it with them, stops the dashboard first and Telegram last."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from config.errors import ConfigError
from dashboard.auth import MIN_TOKEN_CHARS, Auth
from dashboard.server import DashboardServer
from dashboard.source import AccountHandle, DashboardSource, stale_after
from notifications.secret import one_line, read_token, url_token
from notifications.status_text import source_text
from observability.error_text import describe
from observability.log_streams import symbol_log_path
from observability.metrics import BotMetrics
from protections.wiring import GuardTicks
from storage import control
from storage.writer import writes_within
from supervision.instance_lock import is_locked


class OperatorServices:
    def __init__(self, *, settings: Any, data_dir: Path, accounts: list[Any], logger: Any) -> None:
        self.settings, self.data_dir, self.accounts, self.log = settings, data_dir, accounts, logger
        self.source = DashboardSource(
            data_dir=data_dir,
            accounts=[self._handle(a) for a in accounts],
            running=lambda: is_locked(data_dir / "bot.lock"),
            stale_after_s=stale_after(settings.bot.status_interval_s),
        )
        self.telegram = self._telegram()
        self.metrics = BotMetrics(
            snapshot=self.source.status,
            exchange_stats=self._exchange_stats,
            notification_stats=self._notification_stats,
            running=self.source.running,
            accounts=tuple(self.source.accounts),
        )
        for account in accounts:  # the actors' hot-path hooks now reach this registry
            relay = getattr(account, "metrics", None)
            if relay is not None:
                relay.attach(self.metrics)
        self.dashboard = self._dashboard()
        self.guard_ticks = GuardTicks(accounts, logger)

    def _handle(self, account: Any) -> AccountHandle:
        return AccountHandle(
            name=account.name,
            symbols=tuple(account.symbols),
            repo=account.repo,
            capital=account.guard.totals.base,
            log_path=symbol_logs(self.data_dir, account.name, self.settings.has_accounts),
            takes_close=account.settings.strategy.name != "hedge_grid",
            protections=tuple(check.name for check in account.guard.checks),
        )

    def _dashboard(self) -> DashboardServer | None:
        return build_dashboard(self.settings, self.source, self.metrics.render, self.log)

    def _telegram(self) -> Any:
        cfg = self.settings.telegram
        if not cfg.enabled:
            return None
        from notifications.outbox import FILE_NAME, Outbox
        from notifications.telegram import TelegramApi
        from notifications.telegram_bot import TelegramBot

        token = read_token(
            key="telegram.token_file",
            env_name=cfg.token_env,
            file=cfg.token_file,
            base=self.settings.base_dir,
        )
        if not token:
            raise ConfigError(
                f"telegram.token_env: environment variable {cfg.token_env} must "
                "hold the bot token (or set telegram.token_file)"
            )
        if not cfg.chat_ids:
            raise ConfigError("telegram.chat_ids: list at least one chat id to notify")
        key = "telegram.token_file" if cfg.token_file else "telegram.token_env"
        api = TelegramApi(base_url=cfg.api_url, token=url_token(token, key))
        me = self._check_token(api, key)
        bot = TelegramBot(
            api=api,
            chat_ids=cfg.chat_ids,
            logger=self.log,
            status_text=self.status_text,
            pause=self.pause_all,
            paused_before=lambda by, since: paused_since(self.accounts, by, since),
            commands=cfg.commands,
            notify_trades=cfg.notify_trades,
            poll_timeout_s=cfg.poll_timeout_s,
            retry_initial_s=cfg.retry_initial_s,
            retry_max_s=cfg.retry_max_s,
            username=me.get("username") if isinstance(me, dict) else None,
            outbox=self._outbox(Outbox, self.data_dir / FILE_NAME),
        )
        for account in self.accounts:
            account.alerts.listen(bot.on_alert)  # with those raised while it was built
            if cfg.notify_trades:
                prefix = f"{account.name}: " if self.settings.has_accounts else ""
                account.guard.on_trade = lambda text, p=prefix: bot.broadcast(p + text, "trade")
        return bot

    def _outbox(self, outbox: Any, path: Path) -> Any:
        """Telegram's outbox (notifications/outbox.py); a file that cannot be opened is one
        ERROR line naming it, and the bot runs with its messages kept in memory only."""
        import sqlite3

        try:
            return outbox(path, self.log)
        except sqlite3.Error as exc:
            self.log.error("telegram: {} cannot be opened ({}); messages queued for Telegram "
                           "are not kept across a restart (move the file away to start afresh)",
                           path, exc)
            return None

    def _check_token(self, api: Any, key: str) -> Any:
        """A token Telegram refuses stops the start in one line: running on, every alert was
        refused (401) and dropped, so escalations never reached a chat. Telegram unreachable
        is no reason to stay down: said once, and the alerts are retried as always."""
        from notifications.telegram import SendFailed

        try:
            return api.get_me()  # the bot's username: `/pause@other_bot` is not for it
        except SendFailed as exc:
            if exc.redirect:
                raise ConfigError(f"telegram.api_url: {exc.reason}") from None
            if exc.permanent or exc.unauthorized:
                raise ConfigError(f"{key}: Telegram refused the bot token ({exc.reason})") from None
            self.log.warning("telegram: the bot token could not be checked at start ({}); "
                             "alerts are sent when Telegram answers", exc.reason)
            return None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        if self.telegram is not None:
            self.telegram.start()
        if self.dashboard is not None:
            self.dashboard.start()

    def tick(self) -> None:
        """The run loop's pass: each account's protections (ledger feed, trips, blocks)."""
        self.guard_ticks.tick()

    def stop_dashboard(self) -> None:
        """First at shutdown: no control reaches accounts that are stopping."""
        if self.dashboard is not None:
            self.dashboard.stop()

    def stop_telegram(self) -> None:
        """Last, once the accounts stopped and the final status is written: the alerts and
        trade notices of the shutdown itself (guard catch-up, emergency closer, a failed final
        status write) still reach the chats (they were logged as not sent)."""
        if self.telegram is not None:
            self.telegram.stop()

    def stop(self) -> None:
        self.stop_dashboard()
        self.stop_telegram()

    # -- for Telegram and metrics ----------------------------------------------------------------
    def status_text(self) -> str:
        return source_text(self.source)

    def pause_all(self, by: str) -> str:
        return pause_accounts(self.accounts, by, self.log)

    def _exchange_stats(self) -> dict[str, dict[str, Any]]:
        stats: dict[str, dict[str, Any]] = {}
        for account in self.accounts:
            try:  # a scrape never breaks on one account's exchange
                stats[account.name] = _account_exchange_stats(account)
            except Exception as exc:  # noqa: BLE001
                self.log.warning("metrics: exchange figures of {} failed: {}", account.name,
                                 describe(exc))
        return stats

    def _notification_stats(self) -> dict[str, dict[str, Any]]:
        if self.telegram is None:
            return {}
        s = self.telegram.sender
        return {
            "telegram": {"sent": s.sent, "failed_attempts": s.failed_attempts, "pending": s.pending}
        }


PAUSE_STORE_S = 10.0
"""How long /pause waits for each account's database to store its row (the command poller,
every later /status and /pause, waits with it; the writer's own bound is 60 s)."""


def pause_accounts(accounts: list[Any], by: str, log: Any,
                   store_s: float = PAUSE_STORE_S) -> str:
    """Queue a pause on every account; the reply names the accounts paused and those that
    failed (one failing midway answered only FAILED, though the ones before it were paused,
    and the ones after it were not tried). Every one failing raises the first error. A row the
    database did not store within `store_s` is not a failure: it stays queued and may still
    commit (found by review: answered "NOT paused (FAILED)", and the account was paused once
    the database answered), so it is named NOT CONFIRMED. A pause still pending from before
    (a second tap, an update Telegram hands again) is that one, named with its control id, not
    queued again (storage/control.py SAME; two pauses were journaled)."""
    now = time.time()  # journaled as requested_at, as a dashboard or CLI control is
    paused: list[str] = []
    held: list[str] = []
    unsure: list[str] = []
    failed: list[tuple[str, Exception]] = []
    for account in accounts:
        try:
            with writes_within(store_s):
                cid, new = control.request_once(account.repo, "pause", "*", by=by,
                                                requested_at=now)
            paused.append(account.name)
            if not new:
                held.append(f"{account.name} (control {cid})")
        except TimeoutError:
            log.error("pause of account {} not confirmed: its database did not store it within "
                      "{:g}s; it may still be carried out", account.name, store_s)
            unsure.append(account.name)
        except Exception as exc:  # noqa: BLE001 - the other accounts are paused still
            log.opt(exception=exc).error("pause of account {} failed: {}", account.name, exc)
            failed.append((account.name, exc))
    if failed and not paused and not unsure:
        raise failed[0][1]
    again = (f"; already queued, not queued again: {', '.join(held)}" if held else "")
    if not failed and not unsure:
        return (f"pausing new entries on {len(paused)} account(s); positions stay "
                f"protected{again}")
    parts = [f"pausing new entries on {len(paused)} of {len(accounts)} account(s): "
             f"{', '.join(paused) or 'none'}{again}"]
    if unsure:
        parts.append(f"NOT CONFIRMED: {', '.join(unsure)} (the database did not store the "
                     f"pause within {store_s:g}s; it may still be carried out: see /status "
                     "before sending /pause again)")
    if failed:
        reasons = "; ".join(f"{name}: {one_line(f'{type(exc).__name__}: {exc}', 150)}"
                            for name, exc in failed)
        parts.append(f"NOT paused (FAILED): {reasons}; try again or use the dashboard")
    return "; ".join(parts)


CLOCK_SKEW_S = 60.0
"""How far Telegram's date of a command may run ahead of this machine's clock."""


def paused_since(accounts: list[Any], by: str, since: float) -> list[str]:
    """The accounts holding a pause that `by` queued at or after `since` (a command's date): a
    /pause Telegram hands a restarted bot again was carried out when its row is there."""
    since -= CLOCK_SKEW_S
    return [a.name for a in accounts
            if a.repo.read(control.requested_since, "pause", by, since)]


def _account_exchange_stats(account: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if account.feed is not None:  # with streams on, the REST feed is the stream feed's `rest`
        rest = getattr(account.feed, "rest", account.feed)
        entry.update(feed_polls=rest.polls, feed_undelivered=rest.dropped)
    counts = getattr(account.exchange, "counts", None)
    if callable(counts):
        entry.update(counts())
    status = getattr(account.exchange, "status", None)
    if callable(status):
        requests = dict(status()).get("requests")  # the ccxt gateway's; paper has none
        if requests is not None:
            entry["requests"] = requests
    return entry


def symbol_logs(data_dir: Path, account: str, tagged: bool) -> Callable[[str], Path]:
    """A symbol's log file of `account` (under its own folder when accounts are named)."""
    logs = data_dir / "logs"
    return lambda symbol: symbol_log_path(logs, symbol, account if tagged else None)


def build_dashboard(settings: Any, source: DashboardSource, metrics: Any,
                    logger: Any) -> DashboardServer | None:
    """The dashboard server from `[dashboard]` (None when off or its port is taken: trading
    goes on without its view, and the status dump then names no dashboard)."""
    cfg = settings.dashboard
    if not cfg.enabled:
        return None
    token = read_token(
        key="dashboard.token_file",
        env_name=cfg.token_env,
        file=cfg.token_file,
        base=settings.base_dir,
    )
    _check_token_length(cfg, token)
    auth = Auth(token=token, host=cfg.host)
    if auth.require_all and not token:
        raise ConfigError(
            f"dashboard.host: {cfg.host} is not a loopback address, so a token "
            f"is required (set ${cfg.token_env} or dashboard.token_file)"
        )
    try:
        return DashboardServer(
            source=source,
            auth=auth,
            logger=logger,
            metrics=metrics,
            host=cfg.host,
            port=cfg.port,
            push_interval_s=cfg.push_interval_s,
        )
    except OSError as exc:
        logger.error(
            "dashboard.port: cannot listen on {}:{} ({}); running without the "
            "dashboard (set another port or dashboard.enabled = false)",
            cfg.host,
            cfg.port,
            exc.strerror or exc,
        )
        return None


def _check_token_length(cfg: Any, token: str) -> None:
    """A configured token shorter than ``MIN_TOKEN_CHARS`` is a one-line config error naming
    where it came from (never the token)."""
    if not token or len(token) >= MIN_TOKEN_CHARS:
        return
    where = "dashboard.token_file" if cfg.token_file else f"dashboard.token_env (${cfg.token_env})"
    raise ConfigError(
        f"{where}: the dashboard token must be at least {MIN_TOKEN_CHARS} characters "
        f"(it has {len(token)}); make one with: python -c 'import secrets; "
        "print(secrets.token_urlsafe(24))'"
    )
