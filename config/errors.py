"""The single exception type raised for any configuration problem."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration problem, described in ONE line.

    ``str(err)`` reads like ``config.toml:63: risk.stop_loss_pct: must be > 0 and <= 50 (got -1)``.
    When several problems were found, ``problems`` holds every line and the message names the
    first one plus how many more there are.
    """

    def __init__(self, message: str, problems: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = problems if problems else (message,)
