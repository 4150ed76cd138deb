"""storage.path or paper.store naming a file or folder the bot itself keeps in its data dir
(status.json, bot.lock, logs/, locks/, ...) is refused in one line naming the key.

Found by running bot.py on a fresh data dir with such values: `storage.path = "status.json"`
started (exit 0) with its SQLite database where the status writer replaces status.json every
second (the tables survived only in status.json-wal), `"logs/bot.log"` started with loguru
appending log lines to the database file, `"bot.lock"` was refused as `another bot is already
using .../bot.lock (PID <its own PID> ...)` (exit 3), and `"logs"` as `.../logs: cannot open
the lock file (EISDIR: Is a directory)`, naming no key. (An existing folder was already
refused, test_database_path_blocked.py, but logs/ and locks/ do not exist before the first
start.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(("key", "value", "what"), [
    ("storage.path", "status.json", "status file"),
    ("storage.path", "logs/bot.log", "logs folder"),
    ("storage.path", "logs", "logs folder"),
    ("storage.path", "bot.lock", "lock file"),
    ("storage.path", "locks/main.lock", "locks folder"),
    ("paper.store", "status.json", "status file"),
    ("paper.store", "./logs/BTC_USDT_USDT.log", "logs folder"),
    ("paper.store", "alert_hooks.db", "alert hook outbox"),
])
def test_a_database_on_one_of_the_bots_own_files_is_refused(tmp_path, key, value, what):
    section, name = key.split(".")
    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "data"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
                      "[dashboard]\nenabled = false\n[logging]\nconsole = false\n"
                      f'[{section}]\n{name} = "{value}"\n')
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "--config", str(config),
                           "--duration", "3"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    path = tmp_path / "data" / Path(value)
    assert done.returncode == 2, done.stderr
    inside = "in " if "folder" in what and "/" in value else ""
    assert done.stderr == (f"bot.py: error: {config}:10: {key}: {path} is {inside}the bot's "
                           f"own {what} in the data dir; give the database a file of its "
                           "own\n"), done.stderr


@pytest.mark.parametrize(("value", "line"), [
    ("bot.sqlite", "the same file as storage.path ({path}); the markets cache needs a file of "
                   "its own"),
    ("status.json", "{path} is the bot's own status file in the data dir; give the markets "
                    "cache a file of its own"),
])
def test_a_markets_cache_on_the_database_or_the_bots_own_files_is_refused(tmp_path, value, line):
    """exchange.markets_cache = "bot.sqlite" (live, dry-run) was accepted: the cache is written
    by replacing its file (storage/atomic_file.py), so the first markets load would replace
    the database the bot has open, its later writes going to a deleted file."""
    config = tmp_path / "c.toml"
    config.write_text('[bot]\nmode = "dry-run"\ndata_dir = "data"\n'
                      '[symbols]\nlist = ["BTC/USDT:USDT"]\n[logging]\nconsole = false\n'
                      f'[exchange]\nid = "bybit"\nmarkets_cache = "{value}"\n')
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "--config", str(config),
                           "status"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    path = tmp_path / "data" / value
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: {config}:10: exchange.markets_cache: "
                           f"{line.format(path=path)}\n"), done.stderr
