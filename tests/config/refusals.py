"""The loader's one-line refusal, as the config tests check it."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import ConfigError, load_settings


def refused(path: Path) -> str:
    """The ConfigError `path` is refused with: one line, starting with the file's name."""
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    return message
