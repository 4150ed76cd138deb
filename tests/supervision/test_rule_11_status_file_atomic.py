"""Rule 11: any file the bot writes (the status snapshot) is written to a temp file, fsynced and
renamed: a reader (`bot.py status`, the dashboard, a monitoring script) sees the previous
snapshot or the new one, never a partial file. A reader thread reads status.json in a loop while
the bot's own `write_status` replaces it many times; every read must be whole, valid JSON."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path

from supervision.status import STATUS_FILE, write_status

ACTORS = 600  # a snapshot of a few hundred kB: a plain rewrite is visibly partial while it runs
WRITES = 60


def snapshot(round_: int) -> dict:
    actors = [{"symbol": f"SYM{i:04d}/USDT:USDT", "state": "running", "incarnation": round_,
               "restarts": 0, "mailbox": 0, "last_failure": None, "phase": "open",
               "position": {"side": "long", "contracts": "0.001", "entry_price": "60000.5",
                            "mark_price": "60100.25", "unrealized_pnl": "0.1"},
               "stop_price": "59400", "trailing": {"state": "waiting",
                                                   "activation_price": "60300",
                                                   "trigger_price": None},
               "cooldown_until": None, "close_failures": 0, "last_tick_age_s": 0.2,
               "protected": True, "quarantine_reason": None, "reconciled": True}
              for i in range(ACTORS)]
    return {"bot": {"pid": 1, "running": True, "round": round_, "heartbeat_at": float(round_)},
            "actors": actors, "health": {"open_positions": ACTORS,
                                         "protected_positions": ACTORS, "ts_coverage": 1.0},
            "escalations": [], "kill_switch": False}


def reads_while_rewritten(path: Path, rewrite: Callable[[int], object]) -> tuple[list[str],
                                                                                list[int]]:
    """Read `path` in a loop on a thread while `rewrite(i)` replaces it for i = 1..WRITES:
    the partial reads (described) and the round each whole read saw."""
    done = threading.Event()
    bad: list[str] = []
    rounds_seen: list[int] = []

    def reader() -> None:
        while not done.is_set():
            text = path.read_text()
            try:
                data = json.loads(text)
            except ValueError:
                bad.append(f"{len(text)} bytes: {text[-80:]!r}")
                continue
            if len(data["actors"]) != ACTORS:
                bad.append(f"{len(data['actors'])} actors")
            rounds_seen.append(data["bot"]["round"])

    thread = threading.Thread(target=reader, name="status-reader")
    thread.start()
    try:
        for i in range(1, WRITES + 1):
            rewrite(i)
    finally:
        done.set()
        thread.join(30)
    assert not thread.is_alive()
    return bad, rounds_seen


def test_a_reader_never_sees_a_partial_status_file_while_it_is_rewritten(tmp_path):
    path = tmp_path / STATUS_FILE
    write_status(tmp_path, snapshot(0))
    bad, rounds_seen = reads_while_rewritten(path, lambda i: write_status(tmp_path, snapshot(i)))
    assert not bad, f"{len(bad)} partial reads of {len(bad) + len(rounds_seen)}; first: {bad[0]}"
    assert len(set(rounds_seen)) > 1  # the reader really read while the writes went on
    assert json.loads(path.read_text())["bot"]["round"] == WRITES
    assert sorted(p.name for p in tmp_path.iterdir()) == [STATUS_FILE]  # no temp file left
