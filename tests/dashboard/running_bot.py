"""A real `python bot.py` subprocess with its dashboard on a free port, for the API, metrics
and browser tests."""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.e2e.bot_process import start_bot, wait_status, write_config

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"]
TOKEN = "dash-9f8e7d6c5b4a-token"


def fast_config(path: Path, **extra: dict[str, Any]) -> Path:
    """Opens positions within seconds (the e2e tests' settings) and serves the dashboard. No
    cooldown after a loss: with the default 120 s, four symbols that each lost once left the
    bot without any position for two minutes, and a test waiting to see one timed out (CI)."""
    extra = {**extra, "risk": {"cooldown_after_loss_s": 0, **extra.get("risk", {})}}
    return write_config(
        path, SYMBOLS,
        bot={"status_interval_s": 0.2, **extra.pop("bot", {})},
        exchange={"poll_interval_s": 0.1},
        strategy={"window": 10, "entry_z": 1.0, "exit_z": 0.2, "min_volatility_pct": 0},
        paper={"latency_ms": 1, "step_ms": 100, "speed": 600.0},
        logging={"console": False},
        dashboard={"enabled": True, "port": 0, "push_interval_s": 0.3},
        **extra,
    )


class RunningBot:
    def __init__(self, tmp: Path, before_start: Callable[[Path], None] | None = None, *,
                 env: dict[str, str] | None = None,
                 ready: Callable[[dict[str, Any]], bool] | None = None,
                 **extra: dict[str, Any]) -> None:
        self.config = fast_config(tmp / "config.toml", **extra)
        self.data = tmp / "data"
        if before_start is not None:
            before_start(self.data)
        self.proc = start_bot(self.config, self.data,
                              env={**os.environ, "BOT_DASHBOARD_TOKEN": TOKEN, **(env or {})})
        ready = ready or (lambda s: s["health"]["open_positions"] > 0)
        try:
            status = wait_status(self.config, self.data, lambda s: s["bot"].get("dashboard")
                                 and s["bot"]["pid"] == self.proc.pid and ready(s), timeout=90,
                                 message="dashboard up and the bot ready")
        except BaseException:
            self.proc.kill()  # a bot that never got ready must not outlive its test
            self.proc.communicate(timeout=30)
            raise
        self.url: str = status["bot"]["dashboard"]

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.terminate()
        _, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err

    def request(self, path: str, *, body: Any = None, headers: dict[str, str] | None = None,
                method: str | None = None) -> tuple[int, Any, dict[str, str]]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                raw, code, hdrs = resp.read(), resp.status, dict(resp.headers)
        except urllib.error.HTTPError as exc:
            raw, code, hdrs = exc.read(), exc.code, dict(exc.headers)
        ctype = hdrs.get("Content-Type", "")
        return code, (json.loads(raw) if "json" in ctype else raw.decode()), hdrs

    def get(self, path: str, **kw: Any) -> Any:
        code, body, _ = self.request(path, **kw)
        assert code == 200, (path, code, body)
        return body


def error_lines(err: str, config: Path, word: str) -> list[str]:
    """The lines of a bot's stderr holding ``word``, a config error's `file:line: ` (the config
    file and the line of its key, config/loader.py `located`) checked and taken out."""
    prefix = re.compile(rf"^bot\.py: error: {re.escape(str(config))}:\d+: ")
    lines = [line for line in err.splitlines() if word in line]
    for line in lines:
        assert prefix.match(line) or not line.startswith("bot.py: error: "), line
    return [prefix.sub("bot.py: error: ", line) for line in lines]
