"""Running `python -m exchange.paper_server` as a real subprocess on 127.0.0.1 and pointing
real ccxt `bybit` clients at it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import ccxt

from exchange.ccxt.factory import DEFAULT_OPTIONS, point_api_at
from tests.support.waiting import wait_until

API_KEY = "paper-test-key"
API_SECRET = "paper-test-secret-0123456789"
REPO = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_LISTENING = re.compile(r"paper server: .* on http://127\.0\.0\.1:(\d+) \(store ")


def wait_bound_port(proc: subprocess.Popen[bytes], log_path: Path, since: int = 0,
                    timeout: float = 30) -> int:
    """The port a server started with `--port 0` bound, from its log line (written to
    `log_path` after offset `since`): a port chosen by the test and bound later by the server
    could be taken by another test process in between."""
    def bound() -> int | None:
        data = log_path.read_bytes()[since:] if log_path.exists() else b""
        text = data.decode(errors="replace")
        found = _LISTENING.search(text)
        if found:
            return int(found.group(1))
        if proc.poll() is not None:
            raise AssertionError(f"paper server exited {proc.returncode}: {text}")
        return None

    return wait_until(bound, timeout=timeout, interval=0.05, message="paper server's port")


@dataclass
class ServerProcess:
    store: Path
    port: int = 0
    """Known once started: the server binds a port of its own choosing (`--port 0`)."""
    env_keys: bool = True
    symbols: str = "BTC/USDT:USDT,ETH/USDT:USDT"
    proc: subprocess.Popen[bytes] | None = None
    log_name: str = field(default_factory=lambda: f"paper_server_{uuid.uuid4().hex[:8]}.log")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPER_SERVER_")}
        if self.env_keys:
            env.update(PAPER_SERVER_API_KEY=API_KEY, PAPER_SERVER_API_SECRET=API_SECRET)
        log = self._log_file()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "exchange.paper_server", "--port", "0",
                 "--store", str(self.store), "--symbols", self.symbols],
                cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        finally:
            os.close(log)
        self.port = wait_bound_port(self.proc, self.log_path)
        wait_until(self._answers, timeout=20, interval=0.05, message="paper server answers")
        return self

    @property
    def log_path(self) -> Path:
        return self.store.with_name(self.log_name)

    def _log_file(self) -> int:
        """A file, not a pipe: a pipe nobody reads would block a chatty server."""
        return os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    @property
    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"paper server exited {self.proc.returncode}: {self.output}")
        try:
            with urllib.request.urlopen(self.base_url + "/v5/market/time", timeout=1) as reply:
                return bool(json.loads(reply.read())["retCode"] == 0)
        except OSError:
            return False

    def stop(self) -> int:
        """SIGTERM (graceful), returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)


def bybit_client(server: ServerProcess, *, secret: str = API_SECRET) -> ccxt.bybit:
    """The real ccxt bybit class, signed with the server's key, API URLs pointed at it."""
    ex = ccxt.bybit({"apiKey": API_KEY, "secret": secret, "timeout": 5000,
                     "enableRateLimit": False, "options": dict(DEFAULT_OPTIONS["bybit"])})
    return point_api_at(ex, server.base_url)
