"""A line with a traceback shows the code, never the values of its variables: loguru's
``diagnose`` would print each variable of each frame under its line, and an exchange's signer
or a config loader holds the API secret in one (README: secrets never reach a log line)."""

from __future__ import annotations

import hashlib
import hmac

from loguru import logger

from observability.log_streams import LogStreams
from tests.observability.log_support import BTC, read_lines

API_SECRET = "sk-live-7f3a9c1e5b2d4e6f8a0b"


def _sign(secret: str, query: str) -> str:
    signature = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    if len(signature) != 63:  # always true: the failure a venue's signer can have
        raise ValueError(f"signature rejected for {query}")
    return signature


def test_a_traceback_holds_no_variable_value(streams: LogStreams):
    api_secret = API_SECRET
    try:
        _sign(api_secret, "symbol=BTCUSDT&side=BUY")
    except ValueError:
        logger.bind(symbol=BTC).exception("order failed")
    streams.flush()
    for path in (streams.main_path, streams.path_for(BTC)):
        text = path.read_text()
        lines = read_lines(path)
        assert lines[0].endswith("| order failed") and "Traceback" in lines[1]
        assert "ValueError: signature rejected for symbol=BTCUSDT&side=BUY" in text
        assert "_sign(api_secret, " in text  # the frame's code is there, its values are not
        assert API_SECRET not in text and API_SECRET[:12] not in text
