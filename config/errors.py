"""The single exception type raised for any configuration problem."""

from __future__ import annotations

import ast
import json
import re


class ConfigError(Exception):
    """A configuration problem, described in ONE line.

    ``str(err)`` reads like ``config.toml:63: risk.stop_loss_pct: must be > 0 and <= 50 (got -1)``.
    When several problems were found, ``problems`` holds every line and the message names the
    first one plus how many more there are.
    """

    def __init__(self, message: str, problems: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = problems if problems else (message,)


_AT = re.compile(
    r"^(?P<msg>.*) \(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$")
_KEY_TUPLE = re.compile(r"\((?:'[^']*'|\"[^\"]*\")(?:, (?:'[^']*'|\"[^\"]*\"))*,?\)")
_REWORDED = (
    (re.compile(r"^Cannot declare (?P<key>.+) twice$"), "table [{key}] is declared twice"),
    (re.compile(r"^Cannot redefine namespace (?P<key>.+)$"), "table [{key}] is defined already"),
    (re.compile(r"^Cannot mutate immutable namespace (?P<key>.+)$"),
     "{key} was given whole (a value or inline table) and cannot be added to"),
    (re.compile(r"^Cannot overwrite a value$"),
     "a key is set twice (a value cannot be overwritten)"),
)


def toml_syntax(label: str, exc: Exception) -> str:
    """A ``tomllib.TOMLDecodeError`` as one line: ``file:LINE: TOML syntax error: what (line
    LINE, column C)``, a key named as ``a.b`` instead of the parser's Python tuple
    ``('a', 'b')``. The parser's messages quote key names, positions and at most one
    character, never a value (a secrets file goes through here too)."""
    text = str(exc).replace("\n", " ")
    match = _AT.match(text)
    msg = match["msg"] if match else text
    msg = _KEY_TUPLE.sub(_dotted_key, msg)
    for pattern, wording in _REWORDED:
        found = pattern.match(msg)
        if found:
            msg = wording.format(**found.groupdict())  # a wording without {key}: no group
            break
    if match is None:
        return f"{label}: TOML syntax error: {msg}"
    if match["line"] is None:
        return f"{label}: TOML syntax error: {msg} (at the end of the file)"
    return (f"{label}:{match['line']}: TOML syntax error: {msg} "
            f"(line {match['line']}, column {match['col']})")


def _dotted_key(found: re.Match[str]) -> str:
    try:
        parts = ast.literal_eval(found[0])
    except (ValueError, SyntaxError):
        return found[0]
    return ".".join(p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else json.dumps(p) for p in parts)
