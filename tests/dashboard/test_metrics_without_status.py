"""/metrics while there is no status to read (status.json not written yet, or unreadable):
`bot_up` is the instance lock, as its help says, and every configured account is not current.
The parent's dashboard of `run --workers` as built from a real config (dashboard/parent.py), a
real lock held on the data dir.

Found by review: with status.json unreadable (a damaged disk, a hand edit) while the bot ran and
held its lock, `/metrics` said `bot_up 0` (a "bot down" page for a bot that trades on) and had
no `bot_account_current` sample at all, so a `== 0` rule on it never fired."""

from __future__ import annotations

from loguru import logger
from prometheus_client.parser import text_string_to_metric_families

from config.loader import load_settings
from dashboard.parent import ParentDashboard
from supervision.instance_lock import InstanceLock
from supervision.status import STATUS_FILE
from tests.e2e.test_workers import ACCOUNTS, write_accounts_config


def samples(text: str) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found.setdefault(s.name, {})[s.labels.get("account", "")] = s.value
    return found


def test_without_a_readable_status_bot_up_is_the_lock_and_no_account_is_current(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    settings = load_settings(write_accounts_config(tmp_path / "bot.toml"), data)
    parent = ParentDashboard(settings=settings, data_dir=data, logger=logger)
    lock = InstanceLock(data / "bot.lock")
    lock.acquire()
    try:
        (data / STATUS_FILE).write_text('{"bot": {"pid": ')  # damaged
        got = samples(parent.metrics.render().decode())
        assert got["bot_up"] == {"": 1.0}
        assert got["bot_account_current"] == dict.fromkeys(ACCOUNTS, 0.0)
    finally:
        lock.release()
        parent.stop()
    assert samples(parent.metrics.render().decode())["bot_up"] == {"": 0.0}  # the lock is free
