"""`[storage] url`: one-line config errors that never echo a password, and a PostgreSQL-backed
account has no database file among the files a bot locks (its account lock stays)."""

from __future__ import annotations

import pytest

from config.errors import ConfigError
from config.loader import load_settings
from runtime.bot_locks import shared_files


def config(tmp_path, storage: str, accounts: str = ""):  # noqa: ANN001, ANN201
    path = tmp_path / "config.toml"
    path.write_text(f'[symbols]\nlist = ["BTC/USDT:USDT"]\n[storage]\n{storage}\n{accounts}')
    return path


@pytest.mark.parametrize(("url", "line"), [
    ("postgresql://bot:hunter2@db:5432/bot",
     "storage.url: must not hold a password (config files are not secret stores): "
     "give it in PGPASSWORD or ~/.pgpass"),
    ("postgresql://bot@db:5432/bot?password=hunter2",
     "storage.url: must not hold a password (config files are not secret stores): "
     "give it in PGPASSWORD or ~/.pgpass"),
    ("postgresql://bot@db:5432/bot?sslmode=require&sslpassword=hunter2",
     "storage.url: must not hold a password (config files are not secret stores): "
     "give it in PGPASSWORD or ~/.pgpass"),
    ("postgresql://bot@db:5432/bot?sslmode=require&PassWord=hunter2",
     "storage.url: must not hold a password (config files are not secret stores): "
     "give it in PGPASSWORD or ~/.pgpass"),
    ("mysql://bot:hunter2@db/bot",
     "storage.url: must be a postgresql://user@host:port/db URL or \"\" (got scheme 'mysql')"),
    ("bot.sqlite",
     "storage.url: must be a postgresql://user@host:port/db URL or \"\" (got scheme 'none')"),
    # libpq knows the scheme in lower case only: it would read this as "key=value" settings
    # and fail at the first connection with an error quoting the whole URL
    ("POSTGRESQL://bot@db:5432/bot",
     "storage.url: must be a postgresql://user@host:port/db URL or \"\" "
     "(got scheme 'POSTGRESQL')"),
])
def test_a_bad_url_is_one_line_without_the_password(tmp_path, url, line):
    with pytest.raises(ConfigError) as err:
        load_settings(config(tmp_path, f'url = "{url}"'))
    text = str(err.value)
    assert text.endswith(line) and "\n" not in text and "hunter2" not in text


def test_postgresql_accounts_lock_no_database_file(tmp_path):
    two = '[[accounts]]\nname = "alpha"\n[[accounts]]\nname = "beta"\n'
    sqlite = load_settings(config(tmp_path, "", two))
    assert sqlite.storage.url == ""
    names = {p.name for p in shared_files(sqlite, tmp_path / "data")}
    assert names == {"bot.sqlite", "paper_exchange.sqlite"}
    assert len(shared_files(sqlite, tmp_path / "data")) == 4
    pg = load_settings(config(tmp_path, 'url = "postgresql://bot@127.0.0.1:5432/bot"', two))
    files = shared_files(pg, tmp_path / "data")
    assert [p.name for p in files] == ["paper_exchange.sqlite"] * 2  # the paper stores only


def test_an_unreachable_server_stops_startup_in_one_line(tmp_path):
    import socket

    from tests.e2e.bot_process import start_bot

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = config(tmp_path, f'url = "postgresql://bot@127.0.0.1:{port}/bot"\n[logging]\n'
                            "console = false")
    proc = start_bot(path, tmp_path / "data", "--duration", "2")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err[-2000:]
    (line,) = err.strip().splitlines()
    assert f"postgresql://bot@127.0.0.1:{port}/bot schema bot_main: cannot open database" in line
    assert "Connection refused" in line


def test_a_password_in_the_query_is_refused_for_the_leases_database_too(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n[cluster]\n'
                    'database_url = "postgresql://bot@db/bot?password=hunter2"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(path)
    text = str(err.value)
    assert "cluster.database_url: must not hold a password" in text and "hunter2" not in text


def test_a_storage_error_never_quotes_the_urls_query():
    """libpq reads ?password=... as the password: the error naming the server must not show it
    (the config refuses such a URL; this is the storage layer's own guard)."""
    from storage.database import StorageError, open_postgres_database

    with pytest.raises(StorageError) as err:  # port 1: nothing listens, refused at once
        open_postgres_database("postgresql://bot@127.0.0.1:1/bot?password=hunter2", "bot_main")
    text = str(err.value)
    assert text.startswith("postgresql://bot@127.0.0.1:1/bot schema bot_main: cannot open")
    assert "hunter2" not in text


def test_an_empty_password_in_the_query_is_refused_for_it_hides_pgpassword(tmp_path, monkeypatch):
    """Found by a mutation audit (`keep_blank_values=False` in config/section_base.py passed
    every test): `?password=` holds no secret, but libpq takes its empty value over PGPASSWORD,
    so the password the README says to give there is not used (~/.pgpass still is) and the
    server refuses the login. Shown here with the real libpq (no server: `connect_start` only
    parses the URL and begins), then refused by the config check."""
    from psycopg import pq

    monkeypatch.setenv("PGPASSWORD", "from-the-environment")
    seen = {}
    for url in ("postgresql://bot@127.0.0.1:1/bot", "postgresql://bot@127.0.0.1:1/bot?password="):
        conn = pq.PGconn.connect_start(url.encode())
        try:
            seen[url] = conn.password
        finally:
            conn.finish()
    assert list(seen.values()) == [b"from-the-environment", b""]

    with pytest.raises(ConfigError) as err:
        load_settings(config(tmp_path, 'url = "postgresql://bot@db:5432/bot?password="'))
    assert str(err.value).endswith(
        "storage.url: must not hold a password (config files are not secret stores): "
        "give it in PGPASSWORD or ~/.pgpass")
