"""Rule 11: any file the bot writes is written to a temp file, fsynced and renamed. A worker of
`run --workers` writes its own snapshot (status.worker-<n>.json) through its StatusWriter, and
the parent merges it every round (runtime/workers_status.py `read_worker_status`, which counts
on a half-replaced file being impossible: a partial read is taken as "not written yet" and the
worker's symbols drop out of the merged status for that round). A reader thread reads the file
in a loop while the worker's StatusWriter replaces it many times; every read must be whole,
valid JSON, and no temp file is left. Found by the incident-rule mutation audit: with the
worker's snapshot written in place, no test failed (the rule-11 tests cover status.json only)."""

from __future__ import annotations

import json

from loguru import logger

from runtime.status_writer import StatusWriter
from runtime.workers_role import worker_status_name
from tests.supervision.test_rule_11_status_file_atomic import (
    WRITES,
    reads_while_rewritten,
    snapshot,
)


def test_a_reader_never_sees_a_partial_worker_snapshot_while_it_is_rewritten(tmp_path):
    alerts: list[tuple] = []
    writer = StatusWriter(tmp_path, logger=logger, alert=lambda *a, **k: alerts.append(a),
                          file=worker_status_name(1))
    path = tmp_path / worker_status_name(1)
    assert writer.write(snapshot(0))

    def rewrite(i: int) -> None:
        assert writer.write(snapshot(i))

    bad, rounds_seen = reads_while_rewritten(path, rewrite)
    assert not bad, f"{len(bad)} partial reads of {len(bad) + len(rounds_seen)}; first: {bad[0]}"
    assert len(set(rounds_seen)) > 1  # the reader really read while the writes went on
    assert json.loads(path.read_text())["bot"]["round"] == WRITES
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp file left
    assert alerts == []
