"""Writing the status snapshot without letting a full disk or a read-only data dir end the bot.

The snapshot is for people and ``bot.py status``; trading does not depend on it. A write that
fails is reported once (an ERROR line naming the file and the reason, and an alert), the bot
keeps trading and keeps its stops, and each later round tries again; the first success after a
failure is logged too (issue 16 item 11: a read-only data dir once ended the bot with exit 2
after 302 tracebacks that named no file)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage.atomic_file import atomic_write_text, remove_leftover_temps
from supervision.status import STATUS_FILE, write_status

Writer = Callable[[Path, dict[str, Any]], None]
Alert = Callable[..., None]


class StatusWriter:
    def __init__(self, data_dir: Path, *, logger: Any, alert: Alert,
                 write: Writer = write_status, file: str = STATUS_FILE) -> None:
        self.path = Path(data_dir) / file
        self._data_dir = Path(data_dir)
        self._log = logger
        self._alert = alert
        self._write = write
        self.failing: str | None = None
        """The reason of the current failure, None while writes succeed."""
        self.failures = 0
        # a crash between write and rename left them; said at the first write, once the bot's
        # log files are set up (said here, the line went to stderr alone: found by a chaos run
        # that reads the bot's stderr)
        self._removed = remove_leftover_temps(self.path)

    def write(self, status: dict[str, Any]) -> bool:
        """True when the snapshot was written."""
        if self._removed:
            left, self._removed = self._removed, []
            self._log.info("removed {} leftover temp file(s) of {}: {}", len(left), self.path,
                           ", ".join(p.name for p in left))
        try:
            if self.path.name == STATUS_FILE:
                self._write(self._data_dir, status)
            else:  # a worker's own snapshot (runtime/workers_role.py); the parent merges them
                atomic_write_text(self.path, json.dumps(status, indent=1, default=str))
        except OSError as exc:
            self.failures += 1
            reason = exc.strerror or str(exc)
            if self.failing != reason:
                self.failing = reason
                message = (f"status snapshot {self.path} cannot be written ({reason}); trading "
                           "and stops continue, `bot.py status` shows the last good snapshot")
                self._log.error("{}", message)
                self._alert("status_write_failed", message, file=str(self.path), error=reason)
            return False
        if self.failing is not None:
            self._log.info("status snapshot {} written again after {} failed writes",
                           self.path, self.failures)
            self.failing = None
            self.failures = 0
        return True
