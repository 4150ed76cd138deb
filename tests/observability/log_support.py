"""What the log stream tests share: the line format and a file's lines."""

from __future__ import annotations

import re
from pathlib import Path

LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \| (\w+) \| (\S+) \| (.*)$")
BTC = "BTC/USDT:USDT"


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
