"""The log stream tests' fixture: the bot's logging set up on a temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from observability.log_streams import LogStreams, setup_logging


@pytest.fixture
def streams(tmp_path: Path) -> Iterator[LogStreams]:
    streams = setup_logging(tmp_path / "logs", level="DEBUG", console=False)
    yield streams
    streams.close()
