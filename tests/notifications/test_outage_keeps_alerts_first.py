"""An alert that waits out a Telegram outage keeps its place ahead of the trade notices.

README: alerts go out before any queued trade notice; a message that keeps failing for itself
(a proxy's 413 to a long text) is set aside behind every other message so it never blocks them.
Found by review: every failed attempt counted toward that set-aside, also those that fail for
every message (Telegram or the network down, a 5xx, a 429). With the shipped backoff (1 s
doubling) an outage of 15 s set the escalation alert at the head of the queue aside behind
every trade notice, and once Telegram answered again the whole notice backlog went out first
(up to 1,000 of them, about one a second in a chat). Real HTTP server on 127.0.0.1."""

from __future__ import annotations

from loguru import logger

from notifications.sender import ALERT, NOTICE, BackgroundSender, Outgoing
from notifications.telegram import TelegramApi
from tests.notifications.scripted_http import ScriptedHttp
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

TOKEN = "987654:outage-order-token-0123456789abcdef"
DOWN = (502, {"ok": False, "description": "Bad Gateway"})
BUSY = (429, {"ok": False, "description": "Too Many Requests", "parameters": {"retry_after": 0}})


def _delivered(server: ScriptedHttp, answers: list[tuple[int, dict]]) -> list[str]:
    """The texts in the order Telegram took them (the scripted answers fail the first ones)."""
    taken = server.bodies()[len(answers):]
    return [body["text"] for body in taken if isinstance(body, dict)]


def _sender(base_url: str) -> BackgroundSender:
    """An alert queued ahead of three trade notices, through the real Telegram client."""
    api = TelegramApi(base_url=base_url, token=TOKEN, timeout_s=5)
    sender = BackgroundSender(send=api.send_message, logger=logger,
                              retry_initial_s=0.01, retry_max_s=0.02)
    sender.submit(Outgoing(chat_id=7, text="ESCALATION BTC", kind="escalation", priority=ALERT))
    for symbol in ("ETH", "SOL", "XRP"):
        sender.submit(Outgoing(chat_id=7, text=f"closed {symbol}", kind="trade",
                               priority=NOTICE))
    return sender


def _alert_went_first(sender: BackgroundSender, server: ScriptedHttp,
                      answers: list[tuple[int, dict]], lines: list[str]) -> None:
    wait_until(lambda: sender.sent == 4, timeout=10, message="every message sent")
    assert _delivered(server, answers) == [
        "ESCALATION BTC", "closed ETH", "closed SOL", "closed XRP"]
    assert not any("set aside" in line for line in lines)


def _scripted_outage(answers: list[tuple[int, dict]], lines: list[str]) -> None:
    server = ScriptedHttp()
    server.script = list(answers)
    sender = _sender(server.url)
    try:
        sender.start()
        _alert_went_first(sender, server, answers, lines)
    finally:
        sender.stop(0.1)
        server.stop()


def test_an_alert_keeps_its_place_through_an_outage(lines):
    _scripted_outage([DOWN] * 4 + [BUSY] * 3, lines)  # 7 failed: more than set_aside_after (5)


def test_an_alert_keeps_its_place_through_a_5xx_outage(lines):
    """Six 5xx in a row, more than set_aside_after, and nothing else (mutation audit: with a 5xx
    counted as a failure of the message, the test above still passed, its four 502s being
    fewer than five, while a 5xx outage of six attempts set the alert behind the notices)."""
    _scripted_outage([DOWN] * 6, lines)


def test_an_alert_keeps_its_place_while_the_network_refuses_connections(lines):
    """Telegram unreachable (connections refused by a real TCP proxy on 127.0.0.1) for more
    than set_aside_after attempts: the alert still goes first once it is reachable again
    (mutation audit: with a network failure counted as the message's, every test passed)."""
    server = ScriptedHttp()
    with TcpProxy("127.0.0.1", server.server.server_address[1]) as proxy:
        proxy.cut()
        sender = _sender(f"http://127.0.0.1:{proxy.port}")
        try:
            sender.start()
            wait_until(lambda: sender.failed_attempts >= 7, timeout=10,
                       message="seven attempts refused")
            proxy.heal()
            _alert_went_first(sender, server, [], lines)
        finally:
            sender.stop(0.1)
            server.stop()
