"""`bot.py resume` on PostgreSQL is checked as on SQLite: a symbol the account's schema does not
have stopped is one line and nothing queued (it was queued unchecked); a stopped one is queued;
a server that does not answer is one line naming it, never a traceback. Real subprocesses and a
real server (BOT_TEST_PG_URL)."""

from __future__ import annotations

import psycopg

from storage.opening import account_schema
from storage.repository import Repository
from tests.e2e.bot_process import cli, write_config
from tests.support.postgres import pg_url  # noqa: F401 - the fixture

SYM = "BTC/USDT:USDT"


def _controls(url: str) -> list[tuple[str, str]]:
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"SET search_path = {account_schema('main')}")
        return [tuple(r) for r in con.execute("SELECT command, symbol FROM control").fetchall()]


def _one_line(result) -> str:  # noqa: ANN001
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    return line


def test_resume_of_a_symbol_not_stopped_is_refused(tmp_path, pg_url):  # noqa: F811
    config = write_config(tmp_path / "config.toml", [SYM], storage={"url": pg_url})
    data = tmp_path / "data"
    line = _one_line(cli(config, data, "resume", SYM))
    assert f"resume {SYM}: not stopped" in line and "nothing queued" in line
    assert _controls(pg_url) == []

    repo = Repository(url=pg_url, schema=account_schema("main"))
    try:
        repo.quarantine(SYM, "unreadable state: test", correlation_id="c1")
    finally:
        repo.close()
    queued = cli(config, data, "resume", SYM)
    assert queued.returncode == 0, queued.stderr
    assert f"resume {SYM}: queued" in queued.stdout
    assert _controls(pg_url) == [("resume", SYM)]


def test_resume_against_a_server_that_does_not_answer_is_one_line(tmp_path):
    url = "postgresql://bot@127.0.0.1:1/bot"  # nothing listens on port 1
    config = write_config(tmp_path / "config.toml", [SYM], storage={"url": url})
    line = _one_line(cli(config, tmp_path / "data", "resume", SYM))
    assert "127.0.0.1:1" in line and "cannot open database" in line
