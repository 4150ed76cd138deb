"""The loader's one-line refusal, as the config tests check it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from config import ConfigError, load_settings

_LINE = re.compile(r"^((?:bot\.py: error: )?)(/[^:\n]+?):\d+: ", re.MULTILINE)


def unlined(text: str) -> str:
    """`file:12: key: ...` -> `file: key: ...`: for the tests of a refusal's wording; the line
    numbers themselves are checked by test_error_lines.py."""
    return _LINE.sub(r"\1\2: ", text)


def refused(path: Path) -> str:
    """The ConfigError `path` is refused with: one line, starting with the file's name (and the
    line, which is taken out of the returned text)."""
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message and re.match(rf"{re.escape(str(path))}(:\d+)?: ", message)
    return unlined(message)
