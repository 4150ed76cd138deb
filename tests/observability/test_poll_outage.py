"""A polling thread's failures (observability/poll_outage.py): once per outage, and the end of
an outage said once; a later outage is a new one."""

from __future__ import annotations

from observability.poll_outage import PollOutage


class Lines:
    """The logger given to PollOutage: the lines it logs, formatted."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def warning(self, text: str, *args: object) -> None:
        self.lines.append("WARNING " + text.format(*args))

    def info(self, text: str, *args: object) -> None:
        self.lines.append("INFO " + text.format(*args))


def test_the_end_of_an_outage_is_said_once_and_the_next_outage_at_once():
    log, now = Lines(), [1000.0]
    outage = PollOutage(log, "ticker poll", clock=lambda: now[0], reminder_s=300)
    outage.failed(TimeoutError("no answer"))
    now[0] += 1
    outage.failed(TimeoutError("no answer"))
    for _ in range(3):  # every poll after the outage answers
        now[0] += 1
        outage.answered()
    now[0] += 1
    outage.failed(TimeoutError("no answer again"))
    assert log.lines == [
        "WARNING ticker poll failed: TimeoutError: no answer",
        "INFO ticker polls answer again (2 failed over 2 s)",
        "WARNING ticker poll failed: TimeoutError: no answer again",
    ]
