"""Text from outside (an exchange's error page, a symbol, an exception message) cannot forge a
log line: each logging call is one line in bot.log and its actor's file, control characters
(newline, carriage return, ANSI escapes) escaped."""

from __future__ import annotations

import ccxt
from loguru import logger

from observability.log_streams import LogStreams
from tests.observability.log_support import BTC, LINE, read_lines

FORGED = "2030-01-01T00:00:00.000Z | ERROR | ETH/USDT:USDT | kill switch tripped"
ERROR_PAGE = (  # what ccxt puts in an ExchangeNotAvailable for a proxy's 502 page
    "binanceusdm GET https://fapi.binance.com/fapi/v1/ticker/price 502 Bad Gateway\n"
    f"<html>\r\n<body>\n{FORGED}\n\x1b[2J\x1b[31mred</body>\n</html>"
)


def test_outside_text_is_one_line_per_call(streams: LogStreams):
    exc = ccxt.ExchangeNotAvailable(ERROR_PAGE)
    logger.bind(symbol=BTC).warning("market feed poll failed: {}", exc)
    logger.bind(symbol=BTC).info("signal reason: {}", f"late\n{FORGED}")
    logger.bind(symbol=f"X/USDT\n{FORGED}").warning("odd symbol")
    streams.flush()
    for path in (streams.main_path, streams.path_for(BTC)):
        lines = read_lines(path)
        assert all(LINE.match(line) for line in lines), lines
        assert not any("\x1b" in line for line in lines)
    main = read_lines(streams.main_path)
    assert len(main) == 3
    assert "<html>\\r\\n<body>\\n2030-01-01T00:00:00.000Z | ERROR" in main[0]
    assert "\\x1b[2J\\x1b[31mred" in main[0]
    assert "| X/USDT\\n2030-01-01T00:00:00.000Z" in main[2]


def test_a_multi_line_exception_message_forges_no_line(streams: LogStreams):
    try:
        raise ccxt.ExchangeNotAvailable(ERROR_PAGE)
    except ccxt.ExchangeNotAvailable:
        logger.bind(symbol=BTC).exception("close failed\n{}", FORGED)
    streams.flush()
    lines = read_lines(streams.main_path)
    starts = [line for line in lines if LINE.match(line)]
    assert len(starts) == 1 and starts[0].endswith(f"| close failed\\n{FORGED}")
    assert lines[1] == "Traceback (most recent call last):"
    assert f"  {FORGED}" in lines and not any("\x1b" in line for line in lines)
