"""An entry whose SignalAccepted could not be journaled (the database refused the write) is
answered 'error' and not delivered: it gives its wave and open-position places back at once.
They stayed taken for the wave window and `entry_reserve_s`: the next entries of the wave (other
symbols) were refused at the cap though nothing had been opened."""

from __future__ import annotations

from typing import Any

from signals.limits import OpenPositionGate, WaveLimiter
from tests.signals.support import FakeJournal, Positions, make_router


class FailingOnce(FakeJournal):
    """Refuses the first SignalAccepted write, as a locked or full database would."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def __call__(self, symbol: str, type_: str, data: dict[str, Any], correlation_id: str) -> None:
        if type_ == "SignalAccepted" and not self.failed:
            self.failed = True
            raise OSError("database is locked")
        super().__call__(symbol, type_, data, correlation_id)


def test_an_entry_not_journaled_frees_its_wave_and_position_places() -> None:
    journal = FailingOnce()
    router, _, deliver = make_router(
        journal=journal, wave=WaveLimiter(1, 60.0),
        positions=OpenPositionGate(1, Positions(0), reserve_s=60.0))
    first = router.handle({"id": "s-1", "symbol": "BTC/USDT:USDT", "side": "long"}, "test")
    assert (first.status, deliver.calls) == ("error", [])
    second = router.handle({"id": "s-2", "symbol": "ETH/USDT:USDT", "side": "long"}, "test")
    assert (second.status, second.reason) == ("accepted", None)
    assert [symbol for symbol, _ in deliver.calls] == ["ETH/USDT:USDT"]
