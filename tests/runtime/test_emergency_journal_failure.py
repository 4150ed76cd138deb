"""A close order that cannot be journaled (a commit timeout, a locked database) is not sent
(write-ahead) and leaves the close owed, run again like any temporary failure. Found by review:
the journal's failure counted as permanent, the owed marker was cleared and the escalated
position stayed open with nobody closing it. Real paper exchange, real SQLite, real threads; the
journal's failure is injected through the closer's repository (a wrapper of the real one)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from loguru import logger

from exchange.paper.exchange import PaperExchange
from runtime.emergency import OWED, EmergencyCloser
from storage import queries
from storage.repository import Repository
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices

REASON = "close failed 3 times"


class JournalTimesOut:
    """The real repository, whose first `failures` journal writes of a close order time out."""

    def __init__(self, repo: Repository, failures: int) -> None:
        self._repo = repo
        self.failures = failures

    def record(self, symbol: str, type_: str, data: dict[str, Any], **kw: Any) -> None:
        if type_ == "EmergencyCloseRequested" and self.failures > 0:
            self.failures -= 1
            raise TimeoutError("database commit did not finish in time")
        self._repo.record(symbol, type_, data, **kw)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._repo, name)


def _setup(tmp_path, retry_owed: bool):
    clock = FakeClock()
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC], clock=clock,
                          price_source=ScriptedPrices({BTC: D(100)}),
                          starting_balance=D(10000), slippage_bps=D(0))
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    pauses: list[float] = []
    closer = EmergencyCloser(exchange=paper, repo=JournalTimesOut(repo, 1),  # type: ignore[arg-type]
                             prefix=f"acc-{repo.id_tag}-", logger=logger, clock=clock,
                             sleep=lambda s: None, retry_owed=retry_owed,
                             pause=lambda wake, s: pauses.append(s))
    paper.create_order(BTC, "market", "buy", D(1), None, {"clientOrderId": "in1"})
    return paper, repo, closer, pauses


def _open(paper):
    return [p for p in paper.fetch_positions([BTC]) if p.contracts > 0]


def _sent(paper):
    return [s for s in paper.submissions() if s["clientOrderId"].endswith("x")]


def test_a_close_order_not_journaled_stays_owed_and_runs_again(tmp_path):
    paper, repo, closer, pauses = _setup(tmp_path, retry_owed=True)
    try:
        repo.set_meta(OWED + BTC, REASON)
        closer.close(BTC, REASON)
        closer.wait()
        assert closer.running() == []
        assert pauses == [60.0]  # run again after a minute, not given up
        assert _open(paper) == []
        assert len(_sent(paper)) == 1  # the unjournaled order was never sent
        [journaled] = repo.read(queries.events, BTC, "EmergencyCloseRequested")
        assert journaled["data"]["order"] == _sent(paper)[0]["clientOrderId"]
        assert repo.get_meta(OWED + BTC) == ""
    finally:
        repo.close()
        paper.close()


def test_without_runs_again_it_stays_owed_for_the_next_start(tmp_path):
    paper, repo, closer, _ = _setup(tmp_path, retry_owed=False)
    try:
        repo.set_meta(OWED + BTC, REASON)
        closer.close(BTC, REASON)
        closer.wait()
        assert closer.running() == []
        assert _sent(paper) == []
        assert len(_open(paper)) == 1
        assert repo.get_meta(OWED + BTC) == REASON  # the next start runs it
    finally:
        repo.close()
        paper.close()
