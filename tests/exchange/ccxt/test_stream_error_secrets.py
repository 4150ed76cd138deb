"""A stream that fails says why in its health and one log line, without the secrets ccxt puts in
the error's text: a refused Binance user-data connection's error carries the URL, and the URL
carries the listen key (anyone holding it reads the account's orders, fills and positions)."""

from __future__ import annotations

from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET
from tests.exchange.ccxt.stream_rig import StreamRig
from tests.support.waiting import wait_until


def test_a_refused_private_stream_is_reported_without_its_listen_key(tmp_path, lines):
    rig = StreamRig("binanceusdm", tmp_path).start()
    try:
        rig.wait_mode("stream")
        keys = set(rig.venue.listen_keys)
        assert keys, "the private stream took a listen key"
        errors: set[str] = set()

        def failed_on_the_private_url() -> bool:  # in the status's last error (which the next
            # failure of another stream replaces: a loaded machine may not see it) or the log
            errors.add(rig.streams.health().last_error)
            return any("/private/ws" in e for e in (*errors, *lines))

        rig.ws.refuse(True)
        rig.ws.drop_all()
        wait_until(failed_on_the_private_url, timeout=20,
                   message="a private stream failed on its URL")
    finally:
        rig.stop()
    said = [*errors, *lines]
    for secret in (*keys, API_KEY, API_SECRET):
        assert not [text for text in said if secret in text], secret
    assert any("listenKey=***" in e for e in said), said
