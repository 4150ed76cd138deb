"""Assembling the receiver from config: token from the environment, transports, stop."""

from __future__ import annotations

import socket
from types import SimpleNamespace

import pytest
from loguru import logger

from config.errors import ConfigError
from signals.wiring import SignalsConfig, build_signal_services, open_positions_from_views
from tests.signals.support import TOKEN, FakeDeliver, FakeJournal, LocalWsServer, post
from tests.support.waiting import wait_until
from trading.model import Phase

BTC = "BTC/USDT:USDT"


def build(config: SignalsConfig, environ: dict[str, str], journal: FakeJournal,
          deliver: FakeDeliver):
    return build_signal_services(config, symbols=[BTC], deliver=deliver, journal=journal,
                                 seen=journal.seen, open_positions=lambda: 0,
                                 max_open_positions=5, logger=logger, environ=environ)


def test_config_from_mapping_and_missing_token():
    config = SignalsConfig.from_mapping({"enabled": True, "port": 0, "max_size_usdt": "250"})
    assert config.port == 0 and str(config.max_size_usdt) == "250"
    with pytest.raises(ConfigError, match="signals.colour: unknown key"):
        SignalsConfig.from_mapping({"colour": "blue"})
    with pytest.raises(ConfigError,
                       match="signals.token_env: environment variable BOT_SIGNAL_TOKEN"):
        build(config, {}, FakeJournal(), FakeDeliver())


def test_an_empty_token_env_says_it_is_empty():
    """token_env = "" read 'environment variable (none) must hold the token'."""
    config = SignalsConfig.from_mapping({"enabled": True, "port": 0, "token_env": ""})
    with pytest.raises(ConfigError) as err:
        build(config, {"": "x"}, FakeJournal(), FakeDeliver())
    assert str(err.value).startswith("signals.token_env: is empty; name the environment variable")
    assert "(none)" not in str(err.value)


def test_port_in_use_is_a_config_error():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = SignalsConfig(enabled=True, port=taken.getsockname()[1])
        with pytest.raises(ConfigError, match="signals.port: cannot listen on 127.0.0.1"):
            build(config, {"BOT_SIGNAL_TOKEN": TOKEN}, FakeJournal(), FakeDeliver())


def test_both_transports_route_to_one_router_and_stop_together():
    feed = LocalWsServer().start()
    journal, deliver = FakeJournal(), FakeDeliver()
    config = SignalsConfig(enabled=True, port=0, websocket_url=feed.url, max_per_wave=1,
                           wave_window_s=60)
    services = build(config, {"BOT_SIGNAL_TOKEN": TOKEN}, journal, deliver)
    services.start()
    try:
        assert post(services.http.url, {"id": "h1", "symbol": BTC, "side": "long"})[0] == 202
        wait_until(lambda: feed.client_count() == 1, message="websocket connected")
        feed.send({"id": "w1", "symbol": BTC, "side": "short"})  # the wave is shared: rejected
        feed.send({"id": "h1", "symbol": BTC, "side": "long"})  # and so is dedup
        wait_until(lambda: services.websocket.messages == 2, message="websocket messages handled")
    finally:
        assert services.stop(timeout_s=5)
        feed.stop()
    assert [s.signal_id for _, s in deliver.calls] == ["h1"]
    assert [cid for _, _, _, cid in journal.of("SignalRejected")] == ["w1"]
    assert [cid for _, _, _, cid in journal.of("SignalDuplicate")] == ["h1"]


def test_open_positions_counts_every_actor_that_is_not_flat():
    views = {"A": SimpleNamespace(state=SimpleNamespace(phase=Phase.OPEN)),
             "B": SimpleNamespace(state=SimpleNamespace(phase=Phase.FLAT)),
             "C": SimpleNamespace(state=SimpleNamespace(phase=Phase.ENTERING)), "D": None}
    assert open_positions_from_views(views)() == 2


def test_an_endpoint_beyond_loopback_refuses_a_short_token():
    """Signals open positions and the endpoint has no wrong-token backoff: beyond loopback a
    token shorter than 16 characters is refused at start, in one line that never quotes it."""
    config = SignalsConfig(enabled=True, host="0.0.0.0", port=0)
    with pytest.raises(ConfigError) as refused:
        build(config, {"BOT_SIGNAL_TOKEN": "s3cret-token"}, FakeJournal(), FakeDeliver())
    assert str(refused.value) == (
        "signals.token_env: BOT_SIGNAL_TOKEN holds 12 characters; the endpoint listens on "
        "0.0.0.0 (beyond loopback), which needs a token of at least 16")
    services = build(config, {"BOT_SIGNAL_TOKEN": "a-token-of-16-ch"}, FakeJournal(), FakeDeliver())
    services.stop(timeout_s=5)
    loopback = build(SignalsConfig(enabled=True, port=0), {"BOT_SIGNAL_TOKEN": "t0ken"},
                     FakeJournal(), FakeDeliver())  # on loopback a short token stays allowed
    loopback.stop(timeout_s=5)


def test_a_receiver_with_neither_transport_is_a_config_error():
    """Found by review: signals.enabled = true with http_enabled = false and no websocket_url
    built a receiver that listened nowhere; the bot started, said nothing, and every signal the
    user sent went nowhere. It is a one-line config error at start, naming the keys."""
    config = SignalsConfig.from_mapping({"enabled": True, "http_enabled": False,
                                         "websocket_url": ""})
    with pytest.raises(ConfigError) as err:
        build(config, {"BOT_SIGNAL_TOKEN": TOKEN}, FakeJournal(), FakeDeliver())
    assert str(err.value).startswith("signals.http_enabled: false and signals.websocket_url is "
                                     "empty") and "\n" not in str(err.value)


def test_signals_max_open_positions_caps_the_receiver_below_the_risk_cap():
    """Mutation audit: the receiver's cap taken from risk.max_open_positions whatever
    signals.max_open_positions says (signals/wiring.py `_router`) survived every test, none
    set it. A user who caps what signals may open at 1 (of the account's 5) must get 1: the
    second entry is refused over real HTTP with the limit named, and not delivered."""
    journal, deliver = FakeJournal(), FakeDeliver()
    config = SignalsConfig(enabled=True, port=0, max_open_positions=1)
    services = build(config, {"BOT_SIGNAL_TOKEN": TOKEN}, journal, deliver)  # risk's cap: 5
    services.start()
    try:
        assert post(services.http.url, {"id": "c1", "symbol": BTC, "side": "long"})[0] == 202
        status, body = post(services.http.url, {"id": "c2", "symbol": BTC, "side": "short"})
    finally:
        assert services.stop(timeout_s=5)
    assert (status, body["status"]) == (409, "rejected"), body
    assert body["reason"] == "max open positions reached (1 open or opening, limit 1)"
    assert [s.signal_id for _, s in deliver.calls] == ["c1"]


def test_signals_max_body_bytes_reaches_the_endpoint():
    """Mutation audit: signals.max_body_bytes not handed to the HTTP endpoint (its default,
    64 KiB, in force whatever the config said) survived every test. A body over the configured
    limit is answered 413 naming it, unread and not routed."""
    journal, deliver = FakeJournal(), FakeDeliver()
    config = SignalsConfig(enabled=True, port=0, max_body_bytes=200)
    services = build(config, {"BOT_SIGNAL_TOKEN": TOKEN}, journal, deliver)
    services.start()
    try:
        status, body = post(services.http.url, {"id": "big", "symbol": BTC, "side": "long",
                                                "pad": "x" * 300})
    finally:
        assert services.stop(timeout_s=5)
    assert (status, body["reason"]) == (413, "body must be 0..200 bytes"), body
    assert journal.entries == [] and deliver.calls == []
