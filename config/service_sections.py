"""The settings sections of the services around the trading: the dashboard, Telegram and the
cluster (re-exported by ``config.sections``, where the trading sections are)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from config.section_base import _check_postgres_url, _cross, _Section
from config.types import ARRAY, Bool, EnvName, Float, Int, PathStr, Str, Url


class DashboardSettings(_Section):
    """`[dashboard]`: web dashboard, JSON API and /metrics served by the bot (dashboard/).
    On by default on 127.0.0.1; a port another program holds costs the dashboard (one ERROR
    line), never the trading."""

    enabled: Bool = True
    host: Str = "127.0.0.1"
    port: Int = Field(default=8780, ge=0, le=65535)
    token_env: EnvName = "BOT_DASHBOARD_TOKEN"
    token_file: PathStr = ""
    """A 0600 file holding the token (instead of the environment variable)."""
    push_interval_s: Float = Field(default=1.0, ge=0.1, le=60)


class TelegramSettings(_Section):
    """`[telegram]`: alerts to Telegram chats, /status and /pause from allow-listed chats."""

    enabled: Bool = False
    token_env: EnvName = "BOT_TELEGRAM_TOKEN"
    token_file: PathStr = ""
    api_url: Url = Field(default="https://api.telegram.org", pattern=r"^https?://[^/\s]+(/\S*)?$",
                         description="an http(s):// URL (the Bot API's host, optionally a path)")
    chat_ids: Annotated[tuple[Int, ...], ARRAY] = ()
    commands: Bool = True
    notify_trades: Bool = False
    """Also send position opened/closed and a daily summary at 00:00 UTC (escalations, the kill
    switch and protections always go)."""
    retry_initial_s: Float = Field(default=1.0, gt=0, le=3600)
    retry_max_s: Float = Field(default=60.0, gt=0, le=3600)
    """At most an hour (found by review: a wait past threading.TIMEOUT_MAX, ~292 years, raised
    OverflowError in the sender thread, which died: every later alert queued, never sent)."""
    poll_timeout_s: Int = Field(default=25, ge=1, le=50)
    """getUpdates' long poll. Not 0: Telegram then answers at once and the command poller
    asked again at once, a request loop for as long as the bot ran (found by review)."""

    @model_validator(mode="after")
    def _someone_to_tell(self) -> TelegramSettings:
        """`run` checked it only while starting, without the file and line (found by review)."""
        if self.enabled and not self.chat_ids:
            raise _cross("chat_ids", "list at least one chat id to notify (telegram.enabled = "
                         "true)")
        if self.retry_max_s < self.retry_initial_s:  # accepted, the larger silently the cap
            raise _cross("retry_max_s", f"must be >= telegram.retry_initial_s "  # (review)
                         f"({self.retry_initial_s:g}): waits double up to it")
        return self

    @field_validator("chat_ids")
    @classmethod
    def _unique(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        """A chat listed twice got every alert, notice and reply twice (found by review)."""
        first_seen: dict[int, int] = {}
        for index, chat in enumerate(value):
            if chat in first_seen:
                raise _cross(f"[{index}]", f"duplicate of telegram.chat_ids[{first_seen[chat]}] "
                                           f"(got {chat})")
            first_seen[chat] = index
        return value


class ClusterSettings(_Section):
    """`[cluster]`: run this bot as one node of a cluster (several processes or machines, one
    PostgreSQL database): each account is traded by the node holding its lease (cluster/)."""

    enabled: Bool = False
    node_id: Str = Field(default="", pattern=r"^[A-Za-z0-9_.:-]{0,200}$",
                         description="up to 200 characters of A-Z, a-z, 0-9, _ . : -")
    """Empty: generated per process start (host-pid-random), so a restart is a new owner."""
    database_url: Str = ""
    """The leases' database (postgresql://...); empty: storage.url (one is required)."""
    shared_dir: PathStr = ""
    """Where the accounts' SQLite databases live when nodes share one machine (empty: each
    account's storage as configured)."""
    lease_ttl_s: Float = Field(default=3.0, gt=0, le=600)
    lease_safety_margin_s: Float = Field(default=1.0, gt=0, le=300)
    exchange_timeout_ms: Int = Field(default=2500, ge=100, le=600_000)
    """The exchange request timeout the nodes use (replaces exchange.timeout_ms): it is part of
    every takeover's wait (lease expiry = lease_ttl_s + this), so it is kept short."""
    balance_interval_s: Float = Field(default=2.0, gt=0, le=600)

    @model_validator(mode="after")
    def _check(self) -> ClusterSettings:
        _check_postgres_url("database_url", self.database_url)
        if not self.lease_safety_margin_s <= self.lease_ttl_s / 3 + 1e-9:
            raise _cross("lease_safety_margin_s", "must be <= 1/3 of lease_ttl_s, so two slow "
                         f"renewals still leave the lease (got {self.lease_safety_margin_s} with "
                         f"lease_ttl_s {self.lease_ttl_s})")
        return self
