"""The bot's start never fails with "database is locked" because `bot.py signal` / `resume`
queued a control row at that moment. Found by review: opening the database read the schema in a
deferred transaction, then wrote (status spellings, meta); a control row committed in between
made that write fail at once (SQLite never upgrades a read snapshot another writer has moved
past) and the start ended: `bot.py: error: ...: cannot open database: database is locked`."""

from __future__ import annotations

import threading

from storage.control import request_at
from storage.repository import Repository

BTC = "BTC/USDT:USDT"


def test_opening_the_database_while_controls_are_queued_never_fails(tmp_path):
    path = tmp_path / "bot.sqlite"
    Repository(path, synchronous="normal").close()
    stop = threading.Event()
    queued: list[int] = []
    errors: list[str] = []

    def queue_controls() -> None:  # what `bot.py signal` does, back to back
        while not stop.is_set():
            try:
                queued.append(request_at(path, "signal", BTC, {"by": "cli", "side": "long"}))
            except Exception as exc:  # noqa: BLE001 - asserted below
                errors.append(f"control: {type(exc).__name__}: {exc}")
            stop.wait(0.001)

    writer = threading.Thread(target=queue_controls, name="cli-controls")
    writer.start()
    try:
        for _ in range(20):
            try:
                Repository(path, synchronous="normal").close()
            except Exception as exc:  # noqa: BLE001 - asserted below
                errors.append(f"open: {type(exc).__name__}: {exc}")
    finally:
        stop.set()
        writer.join(timeout=60)
    assert errors == []
    assert queued  # the controls landed too
