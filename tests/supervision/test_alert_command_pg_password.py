"""The alert command's environment leaves out the bot's secrets (README, Supervision: "the bot's
environment without the variables the config names as holding secrets"). With PostgreSQL
storage the README tells the user to give the database password in PGPASSWORD (storage.url
may hold none), so PGPASSWORD is one of the bot's secrets there: it reached the alert command,
and a script that logs its environment wrote the database password."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from loguru import logger

from config import load_settings
from config.secrets import secret_env_names
from supervision.alerts import Alerts

PG = '[storage]\nurl = "postgresql://bot@127.0.0.1:5432/bot"\n'
DUMP = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"


def _settings(tmp_path: Path, extra: str):
    path = tmp_path / "config.toml"
    path.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n' + extra)
    return load_settings(path)


def test_the_alert_command_does_not_get_the_database_password(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PGPASSWORD", "db-secret-7c1e")
    monkeypatch.setenv("ALERT_SCRIPT_SETTING", "kept")
    dump = tmp_path / "env.json"
    alerts = Alerts(logger=logger, command=f"{sys.executable} -c \"{DUMP}\" {dump}",
                    secret_env=secret_env_names(_settings(tmp_path, PG)))
    alerts.alert("BTC/USDT:USDT", "escalation", "test")
    alerts.wait()
    env = json.loads(dump.read_text())
    assert env["ALERT_SCRIPT_SETTING"] == "kept" and env["BOT_ALERT_KIND"] == "escalation"
    assert "PGPASSWORD" not in env


def test_without_postgresql_pgpassword_is_not_the_bots(tmp_path: Path):
    assert "PGPASSWORD" not in secret_env_names(_settings(tmp_path, ""))
    assert "PGPASSWORD" in secret_env_names(_settings(
        tmp_path, '[cluster]\ndatabase_url = "postgresql://bot@127.0.0.1:5432/bot"\n'))
