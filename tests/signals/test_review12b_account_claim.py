"""Several accounts: one signal id sent to two accounts at the same moment is handled by one
account and answered as a duplicate by the other (before, both checked the id, found it new,
and both accepted it). Real routers, a real HTTP endpoint; the two requests are made to meet
inside their last journal look-up, the moment both have checked and neither has claimed."""

from __future__ import annotations

import threading

from loguru import logger

from signals.wiring import SignalAccount, SignalsConfig, build_account_signal_services
from tests.signals.support import TOKEN, FakeDeliver, FakeJournal, post

BTC, SOL = "BTC/USDT:USDT", "SOL/USDT:USDT"


class Rendezvous:
    """`seen` for both accounts. A request looks its id up in each account's journal before it
    is routed; the last of those look-ups (the second per request thread) waits, at most 30 s,
    until the other request has made its own: both have checked, neither has claimed yet."""

    def __init__(self) -> None:
        self._barrier = threading.Barrier(2, timeout=30.0)
        self._calls: dict[int, int] = {}
        self._lock = threading.Lock()
        self.met = 0
        """Rendezvous that happened (a broken barrier: one request never got there in time)."""

    def wrap(self, journal: FakeJournal):  # noqa: ANN201
        def seen(signal_id: str) -> bool:
            found = journal.seen(signal_id)
            me = threading.get_ident()
            with self._lock:
                self._calls[me] = self._calls.get(me, 0) + 1
                second = self._calls[me] == 2
            if second:
                try:
                    if self._barrier.wait() == 0:
                        with self._lock:
                            self.met += 1
                except threading.BrokenBarrierError:
                    pass
            return found

        return seen

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
        self._barrier.reset()


def test_the_same_id_sent_to_two_accounts_at_once_is_handled_once():
    rendezvous = Rendezvous()
    journals = {n: FakeJournal() for n in ("alpha", "beta")}
    delivers = {n: FakeDeliver() for n in ("alpha", "beta")}
    accounts = [SignalAccount(name=n, symbols=(sym,), deliver=delivers[n], journal=journals[n],
                              seen=rendezvous.wrap(journals[n]), open_positions=lambda: 0,
                              max_open_positions=50)
                for n, sym in (("alpha", BTC), ("beta", SOL))]
    config = SignalsConfig(enabled=True, port=0, max_per_wave=100)
    services = build_account_signal_services(config, accounts=accounts, logger=logger,
                                             environ={"BOT_SIGNAL_TOKEN": TOKEN})
    services.start()
    url = services.http.url
    try:
        for n in range(5):
            rendezvous.reset()
            answers: dict[str, tuple[int, dict]] = {}

            def send(account: str, symbol: str, sid: str = f"race{n}",
                     answers: dict[str, tuple[int, dict]] = answers) -> None:
                answers[account] = post(url, {"id": sid, "symbol": symbol, "side": "exit",
                                              "account": account})

            threads = [threading.Thread(target=send, args=("alpha", BTC)),
                       threading.Thread(target=send, args=("beta", SOL))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            statuses = sorted(body["status"] for _, body in answers.values())
            assert statuses == ["accepted", "duplicate"], (n, answers)
    finally:
        assert services.stop(timeout_s=5)
    handled = [sig.signal_id for d in delivers.values() for _, sig in d.calls]
    assert sorted(handled) == [f"race{n}" for n in range(5)]
    # every round set the race up (a barrier that broke, one request late on a loaded machine,
    # ran that round without the race, so the test could not fail: found by review)
    assert rendezvous.met == 5, rendezvous.met


def test_an_id_whose_handling_failed_may_be_sent_again():
    journals = {n: FakeJournal() for n in ("alpha", "beta")}
    broken = {"on": True}

    def deliver_alpha(symbol, signal):  # noqa: ANN001, ANN202
        if broken["on"]:
            raise RuntimeError("database gone")
        return True

    delivers = {"alpha": deliver_alpha, "beta": FakeDeliver()}
    accounts = [SignalAccount(name=n, symbols=(sym,), deliver=delivers[n], journal=journals[n],
                              seen=lambda sid: False, open_positions=lambda: 0,
                              max_open_positions=50)
                for n, sym in (("alpha", BTC), ("beta", SOL))]
    services = build_account_signal_services(SignalsConfig(enabled=True, port=0),
                                             accounts=accounts, logger=logger,
                                             environ={"BOT_SIGNAL_TOKEN": TOKEN})
    try:
        router = services.router
        first = router.handle({"id": "f1", "symbol": BTC, "side": "exit"}, "test")
        assert (first.status, first.http_status) == ("error", 500)
        again = router.handle({"id": "f1", "symbol": SOL, "side": "exit"}, "test")
        assert again.status == "accepted"  # not claimed by alpha for ever
        dup = router.handle({"id": "f1", "symbol": BTC, "side": "exit"}, "test")
        assert dup.status == "duplicate"
    finally:
        services.stop(timeout_s=5)
    assert [sig.signal_id for _, sig in delivers["beta"].calls] == ["f1"]
