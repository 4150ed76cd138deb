"""An exception as one line of at most 300 characters of message (observability/error_text.py):
what the journal, the status and the alerts carry as an error, not only the log lines (whose
streams escape a newline themselves). An exchange's error page is many lines and kilobytes."""

from __future__ import annotations

import ccxt

from observability.error_text import describe, message

PAGE = "binanceusdm GET /fapi/v1/order 502 Bad Gateway\n<html>\n<body>\n" + "x" * 2000 + "\n</html>"


def test_an_error_page_is_one_line_of_at_most_300_characters():
    exc = ccxt.ExchangeNotAvailable(PAGE)
    described, text = describe(exc), message(exc)
    assert described.startswith("ExchangeNotAvailable: binanceusdm GET /fapi/v1/order 502 Bad "
                                "Gateway <html> <body> xxx")
    assert text.startswith("binanceusdm GET /fapi/v1/order 502 Bad Gateway <html>")
    for line in (described, text):
        assert "\n" not in line
    assert len(described) == len("ExchangeNotAvailable: ") + 300 and len(text) == 300
