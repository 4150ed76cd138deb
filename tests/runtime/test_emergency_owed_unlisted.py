"""An emergency close still owed for a symbol taken off symbols.list (found by review): the bot
was killed mid-close (or before the close started), then the symbol was removed from the
config. Its stored state held no position (else the start is refused: check_unlisted), so the
account started, and the owed close was neither run nor said: the position the escalation meant
to close could stay on the exchange with nobody closing it and no line saying so. It is now
alerted at every start while it is owed (an ERROR ALERT line naming the symbol and what to do).
Real AccountRuntime on the paper exchange, real SQLite, real actors."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.emergency import OWED
from runtime.stop_accounts import stop_all
from storage import queries
from tests.runtime.test_emergency_resume import CONFIG

ETH = "ETH/USDT:USDT"


def test_a_close_owed_for_a_symbol_no_longer_listed_is_alerted(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"))
    settings = load_settings(config)
    account = AccountRuntime(settings.account_settings()[0], settings.data_dir_path(),
                             logger=logger, tagged=True)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")
    try:
        account.open()
        repo = account.repo
        assert repo is not None
        repo.set_meta(OWED + ETH, "close failed 3 times")  # owed when ETH was still listed
        account.build()
        account.start()
        alerts = account.alerts
        assert alerts is not None
        [said] = [a for a in alerts.sent if a["symbol"] == ETH]
        assert said["kind"] == "escalation"
        assert "no longer lists" in said["message"] and "close failed 3 times" in said["message"]
        assert any("ALERT escalation" in line and ETH in line for line in lines), lines
        assert repo.get_meta(OWED + ETH) == "close failed 3 times"  # still owed: said again
        assert repo.read(queries.events, ETH, "EmergencyCloseRequested") == []
    finally:
        logger.remove(sink)
        stop_all([account], logger)
        account.close()
