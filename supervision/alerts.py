"""Alerts for escalations: an ERROR line (in the symbol's and the bot's log), and optional
notification hooks from config: a command to run and/or a webhook to POST to. Hooks run on a
short-lived background thread with a timeout, so a slow hook never blocks trading. A failing
hook is one WARNING line (never a traceback, never the webhook's URL: it may hold a key)."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit


class Alerts:
    def __init__(
        self,
        *,
        logger: Any,
        command: str = "",
        webhook: str = "",
        timeout_s: float = 10.0,
        account: str | None = None,
    ) -> None:
        self.logger = logger
        self.account = account
        """Named in every alert's payload when the bot runs several accounts."""
        self.command = command
        self.webhook = webhook
        self.timeout_s = timeout_s
        self.sent: list[dict[str, Any]] = []
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        """Called with each alert's payload on the alerting thread; each must return at once
        (e.g. notifications.telegram_bot hands it to its own sender thread)."""
        self._threads: list[threading.Thread] = []
        self._threads_lock = threading.Lock()

    def alert(self, symbol: str | None, kind: str, message: str, **data: Any) -> None:
        payload = {"symbol": symbol, "kind": kind, "message": message, **data}
        if self.account is not None:
            payload["account"] = self.account
        self.sent.append(payload)
        log = self.logger.bind(symbol=symbol) if symbol else self.logger
        log.error("ALERT {}: {}", kind, message)
        for listener in list(self.listeners):
            try:
                listener(payload)
            except Exception as exc:  # noqa: BLE001 - one broken channel never stops an alert
                self.logger.opt(exception=exc).error("alert listener failed: {}", exc)
        if self.command or self.webhook:
            t = threading.Thread(
                target=self._notify, args=(payload,), name="alert-hook", daemon=True
            )
            with self._threads_lock:  # finished hooks are forgotten, the list stays short
                self._threads = [old for old in self._threads if old.is_alive()]
                self._threads.append(t)
            t.start()

    def wait(self, timeout: float = 15.0) -> None:
        """Join the running hooks, all within one ``timeout`` (not one per hook)."""
        deadline = time.monotonic() + timeout
        with self._threads_lock:
            threads = list(self._threads)
        for t in threads:
            t.join(max(deadline - time.monotonic(), 0.0))

    def _notify(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, default=str)
        if self.command:
            env = {
                **os.environ,
                "BOT_ALERT": body,
                "BOT_ALERT_SYMBOL": payload.get("symbol") or "",
                "BOT_ALERT_KIND": payload["kind"],
                "BOT_ALERT_ACCOUNT": payload.get("account") or "",
            }
            try:
                # The alert as JSON on stdin (what config.toml promises) and in $BOT_ALERT.
                subprocess.run(
                    shlex.split(self.command),
                    env=env,
                    timeout=self.timeout_s,
                    check=False,
                    capture_output=True,
                    input=body.encode(),
                )
            except Exception as exc:  # noqa: BLE001 - a hook never kills its thread silently
                self.logger.warning("alert command failed: {}: {}", type(exc).__name__, exc)
        if self.webhook:
            self._post(body)

    def _post(self, body: str) -> None:
        try:
            req = urllib.request.Request(
                self.webhook,
                data=body.encode(),
                method="POST",
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=self.timeout_s):
                pass
        except Exception as exc:  # noqa: BLE001 - BadStatusLine, ValueError, ...: one line
            self.logger.warning("alert webhook failed: {}: {}", type(exc).__name__,
                                _without_url(str(exc), self.webhook)[:300])


def _without_url(text: str, url: str) -> str:
    """``text`` with the webhook URL and its parts that may hold a key replaced."""
    try:
        parts = urlsplit(url)
        pieces = [url, parts.netloc, parts.query, parts.path, parts.username or "",
                  parts.password or ""]
    except ValueError:
        pieces = [url]
    for piece in sorted((p for p in pieces if len(p) > 1), key=len, reverse=True):
        text = text.replace(piece, "<webhook>")
    return text
