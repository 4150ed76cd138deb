"""Which line of a TOML file holds a key, so a config error can say `config.toml:63: key: ...`.

tomllib gives values, not positions. This walks the file's lines as TOML lays them out: table
headers (`[risk]`, `[[accounts]]` - each one a new element -, `[accounts.exchange]` for the
latest element), `key = value` lines (dotted keys too), and skips the inside of multi-line
strings and arrays. A problem's key (`risk.stop_loss_pct`, `accounts[1].exchange.name`,
`symbols.list[3]`) is found at the line that sets it; a key the file does not set (a missing
required key, an inherited default) at the line of its nearest table header that is in the
file, else nowhere (the message then has no line number). Inline tables (`a = {b = 1}`) are
found at the line of `a`.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*(.+?)\s*\]\]?\s*(#.*)?$")
_ASSIGN = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*')"""
                     r"""(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*'))*)\s*=(.*)$""")
_PART = re.compile(r"""[A-Za-z0-9_-]+|"([^"\n]*)"|'([^'\n]*)'""")
_INDEX = re.compile(r"\[(\d+)\]")


def _parts(dotted_key: str) -> list[str]:
    return [m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None
            else m.group(0) for m in _PART.finditer(dotted_key)]


def _path_of(key: str) -> tuple[str, ...]:
    """`accounts[1].exchange.name` -> ('accounts', '1', 'exchange', 'name'); list indexes of
    plain arrays (`symbols.list[3]`) stay in the path and match the array's own line."""
    key = _INDEX.sub(lambda m: f".{m.group(1)}", key)
    return tuple(p for p in (part.strip().strip('"') for part in key.split(".")) if p)


def _open_delims(text: str) -> int:
    """Brackets/braces opened minus closed on a value's text, outside strings and comments."""
    depth, quote, i = 0, "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            break
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        i += 1
    return depth


class _Walk:
    def __init__(self) -> None:
        self.lines: dict[tuple[str, ...], int] = {}
        self.counts: dict[tuple[str, ...], int] = {}
        self.table: tuple[str, ...] = ()

    def _resolve(self, parts: list[str]) -> tuple[str, ...]:
        """A header's key path with each array-of-tables replaced by its latest element."""
        out: list[str] = []
        for part in parts:
            out.append(part)
            count = self.counts.get(tuple(out))
            if count is not None:
                out.append(str(count - 1))
        return tuple(out)

    def header(self, double: bool, name: str, number: int) -> None:
        parts = _parts(name)
        if double:
            base = self._resolve(parts[:-1]) + (parts[-1],)
            self.counts[base] = self.counts.get(base, 0) + 1
            self.table = base + (str(self.counts[base] - 1),)
        else:
            self.table = self._resolve(parts)
        self.lines.setdefault(self.table, number)

    def assign(self, key: str, number: int) -> None:
        parts = _parts(key)
        for end in range(1, len(parts) + 1):  # `a.b = 1` also sets table a here
            self.lines.setdefault(self.table + tuple(parts[:end]), number)


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Every table and key the file sets -> its 1-based line."""
    walk = _Walk()
    pending_close = ""  # a multi-line string's closing quotes
    depth = 0  # open brackets of a multi-line array / inline table value
    for number, line in enumerate(text.splitlines(), start=1):
        if pending_close:
            if pending_close in line:
                pending_close = ""
            continue
        if depth > 0:
            depth += _open_delims(line)
            continue
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("#"):
            walk.header(header.group(1) == "[[", header.group(2), number)
            continue
        assign = _ASSIGN.match(line)
        if not assign:
            continue
        walk.assign(assign.group(1), number)
        value = assign.group(2).strip()
        for quotes in ('"""', "'''"):
            if value.startswith(quotes) and value.count(quotes) == 1:
                pending_close = quotes
        if not pending_close:
            depth = max(_open_delims(value), 0)
    return walk.lines


def line_of(lines: dict[tuple[str, ...], int], key: str) -> int | None:
    """The line that sets `key`, or of its nearest enclosing table in the file, or None."""
    path = _path_of(key)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None
