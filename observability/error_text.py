"""An exception as one line of text, for log lines and records.

A log line that formats an exception directly (`log.warning("... {}", exc)`) calls its
`str()` in the calling thread, and loguru lets an error there propagate: an exception whose
`str()` raises (seen from a library: tests/supervision/test_dead_actor_without_report.py) turned
the line that reports a failure into a new one, out of the `except` that was meant to contain
it, and ended the thread (the market feed's poll loop, the stream feed's, the record keeper's).
Every such line goes through `describe`."""

from __future__ import annotations


def describe(exc: BaseException) -> str:
    """`Type: message` (one line, at most 300 characters of message). An exception whose str()
    raises is named by its type: the error path must not raise again and lose the failure."""
    text = _text(exc)
    if text is None:  # its own text is broken, not the failure it reports
        return f"{type(exc).__name__}: (its message cannot be read)"
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__


def message(exc: BaseException) -> str:
    """The exception's own message alone, for a line that says what it is already (one line,
    at most 300 characters); its type when the message is empty or cannot be read."""
    text = _text(exc)
    return text[:300] if text else type(exc).__name__


def _text(exc: BaseException) -> str | None:
    """The exception's message on one line; None when its str() raises."""
    try:
        return str(exc).strip().replace("\n", " ")
    except Exception:  # noqa: BLE001 - the caller names it by its type
        return None
