"""Issue 16 item 11: a status snapshot that cannot be written degrades: one ERROR naming the file
and the reason, one alert, later rounds retry, recovery is logged. Real files: the snapshot path
is made a directory (root ignores 0500 permissions, so a directory is the fault used)."""

from __future__ import annotations

from loguru import logger

from runtime.status_writer import StatusWriter
from supervision.alerts import Alerts
from supervision.status import read_status


def test_unwritable_snapshot_is_reported_once_and_retried(tmp_path):
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO", format="{level} {message}")
    alerts = Alerts(logger=logger)
    writer = StatusWriter(tmp_path, logger=logger,
                          alert=lambda kind, msg, **d: alerts.alert(None, kind, msg, **d))
    (tmp_path / "status.json").mkdir()
    try:
        for i in range(20):
            assert writer.write({"bot": {"round": i}}) is False  # never raises
        (tmp_path / "status.json").rmdir()
        assert writer.write({"bot": {"round": 20}}) is True
    finally:
        logger.remove(sink)
    errors = [line for line in lines if line.startswith("ERROR status snapshot")]
    assert len(errors) == 1
    assert str(tmp_path / "status.json") in errors[0] and "Is a directory" in errors[0]
    assert [a["kind"] for a in alerts.sent] == ["status_write_failed"]
    assert alerts.sent[0]["file"] == str(tmp_path / "status.json")
    assert any("written again after 20 failed writes" in line for line in lines)
    assert read_status(tmp_path) == {"bot": {"round": 20}}


def test_a_failure_after_a_recovery_is_reported_again(tmp_path):
    """Each failure after a recovery is said again (an ERROR and an alert), even for the same
    reason: the snapshot went stale a second time and the operator must hear of it. Found by
    the runtime mutation audit: with the failure's reason kept after the recovery, the second
    failure was silent and no test failed (the test above fails once)."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO", format="{level} {message}")
    alerts = Alerts(logger=logger)
    writer = StatusWriter(tmp_path, logger=logger,
                          alert=lambda kind, msg, **d: alerts.alert(None, kind, msg, **d))
    try:
        for round_ in range(2):
            (tmp_path / "status.json").unlink(missing_ok=True)  # the last good snapshot
            (tmp_path / "status.json").mkdir()
            assert writer.write({"bot": {"round": round_}}) is False
            assert writer.write({"bot": {"round": round_}}) is False
            (tmp_path / "status.json").rmdir()
            assert writer.write({"bot": {"round": round_}}) is True
    finally:
        logger.remove(sink)
    errors = [line for line in lines if line.startswith("ERROR status snapshot")]
    assert len(errors) == 2, errors
    assert [a["kind"] for a in alerts.sent] == ["status_write_failed"] * 2
    assert sum("written again after 2 failed writes" in line for line in lines) == 2
