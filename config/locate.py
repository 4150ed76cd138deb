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


def _parts(dotted_key: str) -> list[str]:
    return [m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None
            else m.group(0) for m in _PART.finditer(dotted_key)]


_KEY_PART = re.compile(r"""\[(\d+)\]|\["([^"]*)"\]|([^.\[\]]+)""")


def _path_of(key: str) -> tuple[str, ...]:
    """A problem's key as the messages write it -> its path: `accounts[1].exchange.name` ->
    ('accounts', '1', 'exchange', 'name'); `paper.csv_files["BTC/USDT:USDT"]` -> ('paper',
    'csv_files', 'BTC/USDT:USDT'). List indexes of plain arrays (`symbols.list[3]`) stay in the
    path and match the array's own line."""
    return tuple(next(g for g in m.groups() if g is not None).strip()
                 for m in _KEY_PART.finditer(key))


def _close_of(text: str, i: int, quote: str) -> int:
    """Where the string opened by `quote` ends in `text` from `i` (the index after its closing
    quotes), or -1 if it does not end on this line. Basic strings (\") honour backslash
    escapes; literal strings (') have none."""
    while i < len(text):
        if quote[0] == '"' and text[i] == "\\":
            i += 2
            continue
        if text.startswith(quote, i):
            end = i + len(quote)
            if len(quote) == 3:  # up to two more quotes belong to the string's content
                while end < len(text) and text[end] == quote[0] and end - i < 5:
                    end += 1
            return end
        i += 1
    return -1


def _scan(text: str, depth: int, quote: str) -> tuple[int, str]:
    """Carry (open brackets, open multi-line string's quotes) across one line of a value,
    outside strings and comments."""
    i = 0
    while i < len(text):
        if quote:
            end = _close_of(text, i, quote)
            if end < 0:
                return depth, quote
            i, quote = end, ""
            continue
        ch = text[i]
        if ch in "\"'":
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i += len(quote)
            continue
        if ch == "#":
            break
        depth += (ch in "[{") - (ch in "]}")
        i += 1
    if len(quote) == 1:  # a one-line string left open: malformed (tomllib said so already)
        quote = ""
    return depth, quote


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
    quote = ""  # the quotes of a multi-line string still open
    depth = 0  # open brackets of a multi-line array / inline table value
    for number, line in enumerate(text.splitlines(), start=1):
        if quote or depth > 0:  # inside a value that started on an earlier line
            depth, quote = _scan(line, depth, quote)
            continue
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("#"):
            walk.header(header.group(1) == "[[", header.group(2), number)
            continue
        assign = _ASSIGN.match(line)
        if not assign:
            continue
        walk.assign(assign.group(1), number)
        depth, quote = _scan(assign.group(2), 0, "")
        depth = max(depth, 0)
    return walk.lines


def set_at(lines: dict[tuple[str, ...], int], key: str) -> int | None:
    """The line that sets `key` itself, or None. A key the file sets only through a table
    below it (`[accounts.risk]` sets `accounts`) is found at that table's first line (found by
    review: `accounts: expected an array` had none)."""
    path = _path_of(key)
    if path in lines:
        return lines[path]
    below = [n for p, n in lines.items() if len(p) > len(path) and p[:len(path)] == path]
    return min(below) if path and below else None


def line_of(lines: dict[tuple[str, ...], int], key: str) -> int | None:
    """The line that sets `key` (`set_at`), or of its nearest enclosing table in the file, or
    None."""
    path = _path_of(key)
    found = set_at(lines, key)
    if found is not None:
        return found
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


_NAMED = re.compile(r"(?<![\w./\[-])(?:accounts\[\d+\]\.)?[a-z_]+(?:\.[a-z_]+)+")
"""Another key a problem's text names (`must be < strategy.entry_z (2.0)`)."""


def line_of_problem(lines: dict[tuple[str, ...], int], key: str, detail: str) -> int | None:
    """The line of a problem about `key` whose text (`detail`) may name other keys: a check of
    two keys (exit_z < entry_z, ws_url without api_url, hedge_grid without hedge_mode) is about
    the one the file sets when the other is a default. Found by review: `strategy.name =
    "hedge_grid"` without hedge_mode was refused naming no line (no [exchange] table), and
    `entry_z = 0.2` alone at the [strategy] header, not at its line. Order: the line that sets
    `key`; else one that sets another named key (an account's own first); else, for an
    account's key its entry does not set, the top-level key it inherits (found running a cluster
    by the README: `exchange.stop_mode = "bot"` in `[exchange]` was refused at the first
    `[[accounts]]` header); else `line_of(key)`."""
    found = set_at(lines, key)
    if found is not None or key.startswith("-"):  # a command line's --data-dir: no file line
        return found
    account = re.match(r"accounts\[\d+\]\.", key)
    for other in _NAMED.findall(detail):
        own = [account[0] + other] if account and not other.startswith("accounts[") else []
        for name in [*own, other]:
            found = set_at(lines, name)
            if found is not None:
                return found
    if account and (inherited := set_at(lines, key[account.end():])) is not None:
        return inherited
    return line_of(lines, key)
