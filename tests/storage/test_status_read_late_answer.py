"""A bounded status read (PostgreSQL: on its own thread, waited for `wait_s`) whose answer came
after the wait was thrown away: the next round saw the read done and started a new one in its
place without taking its answer. A server answering every read a little slower than the bound
(a loaded PostgreSQL, 1.2 s to the 1 s wait) then never had an answer shown: the status said
"escalations not read yet in this run: unknown, not none" and listed none, round after round,
while every read answered. A late answer is now the last answer, dated when it came."""

from __future__ import annotations

import threading

from storage import queries
from storage.bounded_reads import BoundedReads
from storage.repository import Repository
from tests.support.waiting import wait_until

SYM = "BTC/USDT:USDT"


class SlowReads:
    """`Repository.read`, each answer held until the test lets it go (a slow server)."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.release: list[threading.Event] = []
        self.threads: list[threading.Thread] = []

    def __call__(self, query, *args):
        gate = threading.Event()
        self.release.append(gate)
        self.threads.append(threading.current_thread())
        assert gate.wait(30.0), "the test never let the read answer"
        return self.repo.read(query, *args)


def test_an_answer_that_came_after_the_wait_is_shown_at_the_next_round(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite")
    reads = SlowReads(repo)
    now = [1000.0]
    bounded = BoundedReads(reads, threaded=True, clock=lambda: now[0])
    try:
        repo.add_escalation(SYM, "close failed", 3, "boom")
        first, why = bounded(queries.open_escalations, wait_s=0.05)
        assert first is None and why == "database did not answer within 0.05s"

        wait_until(lambda: reads.release, message="the first read at the server")
        reads.release[0].set()  # the server answers, after the round stopped waiting
        reads.threads[0].join(10.0)
        assert not reads.threads[0].is_alive()
        now[0] = 1010.0  # the next round, 10 s after the answer came

        late, why = bounded(queries.open_escalations, wait_s=0.05)  # this round's read is slow too
        assert late is not None, "the answer that came after the wait was thrown away"
        assert [e["reason"] for e in late] == ["close failed"]
        assert why == "database did not answer within 0.05s"
        assert bounded.read_at(queries.open_escalations) == 1000.0  # when it came
    finally:
        for gate in reads.release:
            gate.set()
        for thread in reads.threads:
            thread.join(10.0)
        repo.close()
