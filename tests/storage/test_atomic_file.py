"""atomic_write_*: concurrent writers never expose a partial file; no temp files are left."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from storage.atomic_file import atomic_write_bytes, atomic_write_text


def test_write_creates_and_replaces(tmp_path: Path):
    target = tmp_path / "state.json"
    atomic_write_text(target, '{"a": 1}')
    assert target.read_text() == '{"a": 1}'
    atomic_write_bytes(target, b"\x00\x01binary")
    assert target.read_bytes() == b"\x00\x01binary"
    atomic_write_bytes(str(target), b"")
    assert target.read_bytes() == b""
    assert os.listdir(tmp_path) == ["state.json"]


def test_a_new_file_is_private_whatever_the_umask(tmp_path: Path):
    """A status file or an export names positions and orders: a new one is the user's alone
    (0600) even under a umask that leaves files readable to others (022, most systems'
    default). Found by the incident-rule mutation audit (helper s): with `_target_mode`
    giving a new file 0644 (storage/atomic_file.py:70), no test failed; every mode test
    rewrote a file that existed."""
    before = os.umask(0o022)
    try:
        for name in ("status.json", "export.csv"):
            atomic_write_text(tmp_path / name, "{}")
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    finally:
        os.umask(before)


def test_existing_mode_is_kept(tmp_path: Path):
    target = tmp_path / "secret.json"
    target.write_text("{}")
    os.chmod(target, 0o600)
    atomic_write_text(target, '{"k": 1}')
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_file_left_readable_to_others_becomes_private_when_rewritten(tmp_path: Path):
    # a status.json an older version (or a user's tool) left 0644 must not stay world-readable
    for before, after in ((0o644, 0o600), (0o755, 0o700), (0o400, 0o400)):
        target = tmp_path / f"status-{before:o}.json"
        target.write_text("{}")
        os.chmod(target, before)
        atomic_write_text(target, '{"k": 1}')
        assert stat.S_IMODE(target.stat().st_mode) == after


def test_failure_leaves_old_content_and_no_temp_file(tmp_path: Path):
    target = tmp_path / "state.json"
    atomic_write_text(target, "old")
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(target, "caf\u00e9", encoding="ascii")
    with pytest.raises(FileNotFoundError):
        atomic_write_text(tmp_path / "no-such-dir" / "x.json", "x")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["state.json"]


def test_concurrent_writers_and_reader_never_see_partial_json(tmp_path: Path):
    target = tmp_path / "positions.json"
    atomic_write_text(target, json.dumps({"writer": -1, "seq": -1, "pad": ""}))
    stop = threading.Event()
    problems: list[str] = []
    reads = [0]

    def writer(number: int) -> None:
        for seq in range(150):
            pad = "x" * (1000 + 37 * ((seq * 7 + number) % 200))  # sizes vary, up to ~8 KB
            atomic_write_text(target, json.dumps({"writer": number, "seq": seq, "pad": pad}))

    def reader() -> None:
        while not stop.is_set():
            text = target.read_text()
            reads[0] += 1
            try:
                doc = json.loads(text)
                assert set(doc) == {"writer", "seq", "pad"}
            except (ValueError, AssertionError):
                problems.append(text[:80])

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in readers:
        thread.join()
    assert problems == []
    assert reads[0] > 0
    assert os.listdir(tmp_path) == ["positions.json"]  # no leftover temp files
    assert json.loads(target.read_text())["seq"] == 149
