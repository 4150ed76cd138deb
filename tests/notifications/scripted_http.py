"""A real HTTP server on 127.0.0.1 (own thread) for Telegram and webhook tests: answers each POST
from ``script`` (then from ``answer``), counts what it received, and can hold every request
until released (a hanging endpoint)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, Any]]


class ScriptedHttp:
    def __init__(self, answer: Callable[[str, Any], Answer] | None = None) -> None:
        self.answer = answer or (lambda path, body: (200, {"ok": True, "result": {}}))
        self.script: list[Answer] = []
        """Answers for the next requests, in order (then ``answer``)."""
        self.requests: list[tuple[str, Any]] = []
        self.answered = 0
        self.release = threading.Event()
        self.release.set()
        """Cleared: every request waits (unanswered) until it is set again."""
        self._lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner._reply(self, raw)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def bodies(self) -> list[Any]:
        with self._lock:
            return [body for _, body in self.requests]

    def _reply(self, handler: BaseHTTPRequestHandler, raw: bytes) -> None:
        try:
            body: Any = json.loads(raw or b"null")
        except ValueError:
            body = raw.decode(errors="replace")
        with self._lock:
            self.requests.append((handler.path, body))
            scripted = self.script.pop(0) if self.script else None
        self.release.wait(60)
        status, answer = scripted or self.answer(handler.path, body)
        data = json.dumps(answer).encode()
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except OSError:
            return
        with self._lock:
            self.answered += 1

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)
