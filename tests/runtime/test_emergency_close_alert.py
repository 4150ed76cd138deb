"""A failed emergency close raises an alert (found by review): it was an ERROR line and an
EmergencyCloseFailed row only, so a person heard of the escalation (its alert goes first) but
not that the close after it failed and the position is still open. The closer now raises
`emergency_close_failed` (forwarded like an escalation); a close that goes through raises none.
Real paper exchange (its fault injector), real SQLite, the real Alerts."""

from __future__ import annotations

from decimal import Decimal as D

from loguru import logger

from exchange import errors
from exchange.paper.exchange import PaperExchange
from runtime.emergency import OWED, EmergencyCloser
from storage.repository import Repository
from supervision.alerts import EMERGENCY_CLOSE_FAILED, FORWARDED, Alerts
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices


def _rig(tmp_path):
    clock = FakeClock()
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC], clock=clock,
                          price_source=ScriptedPrices({BTC: D(100)}),
                          starting_balance=D(10000), slippage_bps=D(0))
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    alerts = Alerts(logger=logger, account="main")
    closer = EmergencyCloser(exchange=paper, repo=repo, prefix=f"main-{repo.id_tag}-",
                             logger=logger, clock=clock, sleep=lambda s: None,
                             alert=alerts.alert)
    paper.create_order(BTC, "market", "buy", D(1), None, {"clientOrderId": "in1"})
    return paper, repo, alerts, closer


def _close(closer, repo) -> None:
    repo.set_meta(OWED + BTC, "close failed 3 times")
    closer.close(BTC, "close failed 3 times")
    closer.wait()


def test_a_failed_emergency_close_is_alerted_naming_the_symbol(tmp_path):
    paper, repo, alerts, closer = _rig(tmp_path)
    try:
        paper.create_order(BTC, "limit", "buy", D(1), D(90), {"clientOrderId": "entry2"})
        paper.faults.fail_next("cancel_order", 100, errors.ExchangeUnavailable("HTTP 502"))
        _close(closer, repo)
        [sent] = [a for a in alerts.sent if a["kind"] == EMERGENCY_CLOSE_FAILED]
        assert sent["symbol"] == BTC and sent["account"] == "main"
        assert "still open" in sent["message"] and "next start" in sent["message"]
        assert EMERGENCY_CLOSE_FAILED in FORWARDED  # Telegram sends it ahead of trade notices
    finally:
        paper.faults.clear()
        repo.close()
        paper.close()


def test_a_close_that_goes_through_raises_no_alert(tmp_path):
    paper, repo, alerts, closer = _rig(tmp_path)
    try:
        _close(closer, repo)
        assert [p for p in paper.fetch_positions([BTC]) if p.contracts > 0] == []
        assert alerts.sent == []
    finally:
        repo.close()
        paper.close()
