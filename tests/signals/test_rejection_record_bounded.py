"""A signal the receiver refuses is answered while the database stalls, as a traded one is.

Found by review (README, External signals: "a slow database holds a signal no longer than
[signals.max_age_s] either"): only an accepted signal's writes were bounded (fc55871). A
refused one (an unknown symbol, over the wave, stale) or a duplicate waited for its journal row
the writer's 60 s: through a database stall each held its HTTP connection a minute (the feed's
one handler too, and every message behind it), then logged a traceback. Its record now waits
`max_age_s` at most; not stored by then it is one error line, and the answer goes out.

Real parts: HTTP on 127.0.0.1, the router with the bot's bound (storage.writer.writes_within),
SQLite, the repository's writer thread held inside a unit (a stalling database)."""

from __future__ import annotations

from tests.signals.support import post, stalled_receiver

BTC = "BTC/USDT:USDT"


def test_a_refused_signal_is_answered_while_the_database_stalls(tmp_path):
    with stalled_receiver(tmp_path, BTC) as url:
        # post's own timeout (10 s) is far below the writer's 60 s
        status, body = post(url, {"id": "bad-1", "symbol": "DOGE/USDT:USDT",
                                  "side": "long", "size_usdt": 200}, timeout=10)
        assert status == 422, body
        assert body["status"] == "rejected", body
