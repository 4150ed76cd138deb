"""A Bybit login refused on a reconnect (the API key revoked or expired while the bot runs),
found by review. The venue answers the private socket's `auth` with {"op": "auth", "success":
false, "ret_msg": "error:USVC1111"} (v5). ccxt.pro 4.5.90 reads that as a plain ExchangeError
(it looks for the op under `request`, the v3 form) and keeps the socket's `authenticated`
entry, so the watchers' retries on that socket waited for a login never sent again, until the
confirm deadline (10 s in production) closed the socket as "the venue did not confirm the
private subscriptions"; and each refusal was said as one warning per private watcher (orders,
fills, positions) with the venue's bare code. Now the refused socket is closed at once, the
refusal is said in one line naming the login (at 1, 2, 4 ... in a row), REST carries the
orders and fills, and the streams come back once the key is good again.

Real ccxt.pro bybit class against the WebSocket and HTTP emulators, the real feeds and actors
(stream_rig.py)."""

from __future__ import annotations

from collections import Counter

from loguru import logger

from supervision.status import stream_status
from tests.exchange.ccxt.ccxt_fixtures import API_KEY
from tests.exchange.ccxt.stream_rig import BTC, ETH, StreamRig
from tests.support.waiting import wait_until


def test_a_login_refused_on_reconnect_is_one_line_rest_takes_over_and_it_comes_back(tmp_path):
    r = StreamRig("bybit", tmp_path, confirm_s=10.0).start()
    said: list[str] = []
    sink = logger.add(lambda m: said.append(m.record["message"]), level="WARNING")
    try:
        r.wait_mode("stream")
        r.ws.protocol.key = "revoked"  # the venue no longer takes our key's logins
        r.ws.drop_all()
        r.wait_mode("rest")
        cid = r.buy()  # REST still works (only the stream login is refused here)
        r.wait_delivered(cid)
        wait_until(lambda: r.ws.protocol.auth_failures >= 3, timeout=60,
                   message="three refused logins")
        # the watchers' own failure is read first, the socket's close names the login 20 ms on
        block = wait_until(lambda: (b := stream_status(r.feed)["streams"])["last_error"]
                           .startswith("the venue refused the private login (error:USVC1111)")
                           and b, message="the status naming the refused login")
        assert block["mode"] == "rest" and not block["connected"]
        refusals = [s for s in said if "USVC1111" in s]
        # one line per said refusal, naming the login, never one per private watcher
        assert refusals and all("refused the private login" in s for s in refusals), refusals
        assert "(1 in a row, next said at 2)" in refusals[0], refusals
        # each refused socket was closed at once, not left for the confirm deadline
        assert not [s for s in said if "did not confirm" in s], said
        r.ws.protocol.key = API_KEY  # the key is good again
        r.wait_mode("stream")
        later = r.buy(ETH)
        r.wait_delivered(later, ETH)
        assert Counter(r.cids_delivered(BTC))[cid] == 1
    finally:
        logger.remove(sink)
        r.stop()
