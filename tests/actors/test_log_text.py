"""The decision loop logs each journal entry's data through `LazyData`: the written line is the
text the plain argument gave, and the data is built only when the line is formatted (loguru
formats only for a sink that takes the level)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loguru import logger

from actors.log_text import LazyData
from trading import journal_events as je


class Counted:
    def __init__(self, data: Any) -> None:
        self.built = 0
        self._data = data

    @property
    def data(self) -> Any:
        self.built += 1
        return self._data


def test_the_written_line_is_the_plain_arguments_text() -> None:
    record = je.EntriesBlocked(reason="kill switch")
    lines: list[str] = []
    sink = logger.add(lines.append, level="INFO", format="{message}")
    try:
        logger.info("{} {}", record.type, LazyData(record))
        logger.info("{} {}", record.type, record.data)
        logger.info("{!r} {:>3}", LazyData(Counted({"p": Decimal("1.5")})), LazyData(Counted(7)))
    finally:
        logger.remove(sink)
    assert lines[0] == lines[1] == f"EntriesBlocked {record.data}\n"
    assert lines[2] == "{'p': Decimal('1.5')}   7\n"


def test_the_data_is_built_only_when_the_line_is_formatted() -> None:
    owner = Counted({"x": 1})
    lazy = LazyData(owner)
    assert owner.built == 0
    assert "{} {}".format("T", lazy) == "T {'x': 1}"
    assert owner.built == 1
