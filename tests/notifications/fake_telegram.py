"""A local stand-in for the Telegram Bot API (real aiohttp server on 127.0.0.1, own thread):
records sendMessage calls, serves getUpdates from a list the test fills, can fail on demand."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web


class FakeTelegram:
    def __init__(self, token: str) -> None:
        self.token = token
        self.messages: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.fail_next: list[int] = []
        """HTTP statuses to answer the next sendMessage calls with (then success)."""
        self.fail_all: int | None = None
        """While set, the HTTP status every sendMessage call is answered with."""
        self.attempts: list[str] = []
        """The text of every sendMessage request, answered or failed, in arrival order."""
        self.calls = 0
        self.sends = 0
        """sendMessage requests received (counted on arrival, before any hold)."""
        self.hold: threading.Event | None = None
        """While set to an unset Event, sendMessage answers only once it is set."""
        self.bad_token_calls = 0
        self.fail_updates: int | None = None
        """While set, the HTTP status every getUpdates call is answered with."""
        self.update_calls = 0
        """getUpdates requests received."""
        self._loop = asyncio.new_event_loop()
        self._new_update = asyncio.Event()
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_update(self, chat_id: int, text: str, date: int | None = None) -> None:
        def add() -> None:
            message: dict[str, Any] = {"chat": {"id": chat_id}, "text": text}
            if date is not None:  # unix seconds, as Telegram dates a message
                message["date"] = date
            self.updates.append({"update_id": len(self.updates) + 1, "message": message})
            self._new_update.set()

        self._loop.call_soon_threadsafe(add)

    def texts(self, chat_id: int | None = None) -> list[str]:
        return [m["text"] for m in list(self.messages)
                if chat_id is None or m["chat_id"] == chat_id]

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    async def _handle(self, request: web.Request) -> web.Response:
        self.calls += 1
        if request.match_info["token"] != self.token:
            self.bad_token_calls += 1
            return web.json_response({"ok": False, "description": "Unauthorized"}, status=401)
        body = await request.json()
        method = request.match_info["method"]
        if method == "sendMessage":
            self.sends += 1
            self.attempts.append(str(body.get("text", "")))
            hold = self.hold
            if hold is not None:
                await asyncio.get_running_loop().run_in_executor(None, hold.wait, 30)
            if self.fail_next or self.fail_all is not None:
                status = self.fail_next.pop(0) if self.fail_next else int(self.fail_all or 500)
                return web.json_response({"ok": False, "description": f"failure {status}"},
                                         status=status)
            if len(str(body.get("text", ""))) > 4096:  # as the Bot API answers it
                return web.json_response({"ok": False, "error_code": 400,
                                          "description": "Bad Request: message is too long"},
                                         status=400)
            self.messages.append(body)
            return web.json_response({"ok": True, "result": {"message_id": len(self.messages)}})
        if method == "getMe":
            return web.json_response({"ok": True, "result": {"id": 4242, "is_bot": True,
                                                             "username": "fake_bot"}})
        if method == "getUpdates":
            self.update_calls += 1
            if self.fail_updates is not None:
                return web.json_response({"ok": False, "description": "Bad Gateway"},
                                         status=self.fail_updates)
            offset = int(body.get("offset") or 0)
            pending = [u for u in self.updates if u["update_id"] >= offset]
            if not pending:
                self._new_update.clear()
                try:
                    await asyncio.wait_for(self._new_update.wait(), min(body.get("timeout", 0), 2))
                except TimeoutError:
                    pass
                pending = [u for u in self.updates if u["update_id"] >= offset]
            return web.json_response({"ok": True, "result": pending})
        return web.json_response({"ok": False, "description": "unknown method"}, status=404)
