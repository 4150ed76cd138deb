"""A real PostgreSQL server for tests, named by the environment variable BOT_TEST_PG_URL.

`.ci/run` starts a throwaway server (Debian's `postgresql`) and exports the variable. Under CI
(`CI=true`) a test that needs the server FAILS when the variable is missing or the server does
not answer, so a broken setup can never pass as "skipped"; on a developer machine the test is
skipped with a one-line reason.

Each test gets its own freshly created database (dropped afterwards), so tests never see each
other's rows and can run in any order.

Use from a conftest.py: `from tests.support.postgres import pg_url  # noqa: F401`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ENV_VAR = "BOT_TEST_PG_URL"
CONNECT_TIMEOUT_S = 3


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Fail under CI (the server must be there), skip elsewhere; never returns."""
    if in_ci():
        pytest.fail(f"PostgreSQL tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def server_url() -> str:
    """BOT_TEST_PG_URL after checking the server answers (or fail/skip, see module doc)."""
    url = os.environ.get(ENV_VAR, "").strip()
    if not url:
        unavailable(f"{ENV_VAR} is not set (.ci/run starts a server and sets it)")
    try:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        unavailable(f"{ENV_VAR} server does not answer: {first_line}")
    return url


def with_database(url: str, name: str) -> str:
    """The same server URL naming another database."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def with_host_port(url: str, host: str, port: int) -> str:
    """The same URL through another host:port (for example a TCP proxy in front of it)."""
    parts = urlsplit(url)
    user = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit((parts.scheme, f"{user}{host}:{port}", parts.path, parts.query,
                       parts.fragment))


def host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


@contextmanager
def fresh_database(url: str) -> Iterator[str]:
    """Create an empty database on the server, yield its URL, drop it (and its sessions)."""
    name = "bot_test_" + uuid.uuid4().hex[:16]
    with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(url, name)
    finally:
        with psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a new, empty database on the test PostgreSQL server (dropped after the test)."""
    with fresh_database(server_url()) as url:
        yield url
