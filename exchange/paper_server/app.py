"""The aiohttp application: Bybit v5 paths, signed private requests, the port called on worker
threads (the paper exchange blocks on SQLite; the event loop must not)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web
from loguru import logger

from exchange.paper_server.auth import ApiKeys
from exchange.paper_server.bybit_api import PUBLIC_PATHS, BybitApi

API_KEY = web.AppKey("bybit_api", BybitApi)
KEYS_KEY = web.AppKey("api_keys", ApiKeys)


def build_app(api: BybitApi, keys: ApiKeys) -> web.Application:
    app = web.Application(client_max_size=64 * 1024)
    app[API_KEY] = api
    app[KEYS_KEY] = keys
    app.router.add_route("*", "/{tail:.*}", _handle)
    return app


async def _handle(request: web.Request) -> web.Response:
    api, keys = request.app[API_KEY], request.app[KEYS_KEY]
    try:
        body = (await request.read()).decode("utf-8")
    except web.HTTPRequestEntityTooLarge:  # aiohttp's own answer: a plain-text 413 page
        return _json(413, {"retCode": 10001, "retMsg": f"body too large: over "
                           f"{request.client_max_size} bytes", "result": {},
                           "retExtInfo": {}, "time": api.now_ms()})
    except UnicodeDecodeError as exc:  # request.text() raised it: a 500 page and a traceback
        return _json(400, {"retCode": 10001, "retMsg": f"body is not UTF-8: {exc.reason} at "
                           f"byte {exc.start}", "result": {}, "retExtInfo": {},
                           "time": api.now_ms()})
    path = request.path
    if path not in PUBLIC_PATHS:
        # what the client signed: the raw (still percent-encoded) query string, or the body
        payload = body if request.method == "POST" else request.rel_url.raw_query_string
        failure = keys.verify(request.headers, payload, api.now_ms())
        if failure is not None:
            logger.warning("paper server: refused {} {}: {}", request.method, path,
                           failure.message)
            return _json(401, {"retCode": failure.code, "retMsg": failure.message,
                               "result": {}, "retExtInfo": {}, "time": api.now_ms()})
    # the request's parameters are what was signed, as Bybit reads them: a POST's body, any
    # other request's query; a query added to a POST (or a body to a GET) is covered by no
    # signature and must not change the request (it was merged in: `?reduceOnly=true`)
    params: dict[str, Any] = {} if request.method == "POST" else dict(request.query)
    if request.method == "POST" and body.strip():
        try:
            decoded = json.loads(body)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError; an int over 4300
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else (  # digits; [[[[...
                "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:80])
            return _json(400, {"retCode": 10001, "retMsg": f"body is not JSON: {why}",
                               "result": {}, "retExtInfo": {}, "time": api.now_ms()})
        if not isinstance(decoded, dict):
            return _json(400, {"retCode": 10001, "retMsg": "body must be a JSON object",
                               "result": {}, "retExtInfo": {}, "time": api.now_ms()})
        params.update(decoded)
    loop = asyncio.get_running_loop()
    status, reply = await loop.run_in_executor(None, api.route, request.method, path, params)
    if isinstance(reply, str):  # no Bybit JSON: the client goes by the HTTP status
        return web.Response(status=status, text=reply, content_type="text/plain")
    return _json(status, reply)


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")
