"""Files read read-only through an SQLite URI from a folder whose name holds `#`, `?` or `%`
(found by review: `file:{path}?mode=ro` takes `#` and `?` as the URI's fragment and query, so
the read failed and was taken for "cannot be read": `bot.py resume`'s check that the symbol is
stopped was skipped, and the paper exchange's price grid started over at every restart,
its creation time unread)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from runtime.emergency import OWED
from runtime.exchanges import paper_epoch_ms
from storage.control import held_in_file
from storage.repository import Repository

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
ODD_FOLDERS = ["bot#1", "bot?mode=rw", "bot%231", "plain"]


@pytest.mark.parametrize("folder", ODD_FOLDERS)
def test_resumes_check_reads_a_database_in_a_folder_with_uri_characters(tmp_path: Path,
                                                                         folder: str) -> None:
    (tmp_path / folder).mkdir()
    path = tmp_path / folder / "bot.sqlite"
    repo = Repository(path)
    try:
        repo.quarantine(BTC, "close failed 3 times", correlation_id="q1")
    finally:
        repo.close()
    assert held_in_file(path, BTC, OWED + BTC) is True
    assert held_in_file(path, ETH, OWED + ETH) is False


@pytest.mark.parametrize("folder", ODD_FOLDERS)
def test_the_paper_stores_creation_time_is_read_in_a_folder_with_uri_characters(
        tmp_path: Path, folder: str) -> None:
    (tmp_path / folder).mkdir()
    store = tmp_path / folder / "paper.sqlite"
    with sqlite3.connect(store) as con:
        con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        con.execute("INSERT INTO meta VALUES ('created_ms', '1600000000000')")
    con.close()
    assert paper_epoch_ms(store) == 1_600_000_000_000
