from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.storage.contract.backends import Backend
from tests.support.postgres import fresh_database, server_url


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path) -> Iterator[Backend]:  # noqa: ANN001
    if request.param == "sqlite":
        b = Backend(kind="sqlite", tmp=tmp_path)
        try:
            yield b
        finally:
            b.close()
        return
    with fresh_database(server_url()) as url:
        b = Backend(kind="postgresql", tmp=tmp_path, url=url)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def pg_backend(tmp_path) -> Iterator[Backend]:  # noqa: ANN001
    """PostgreSQL only (for what SQLite has no counterpart of: sessions, schemas)."""
    with fresh_database(server_url()) as url:
        b = Backend(kind="postgresql", tmp=tmp_path, url=url)
        try:
            yield b
        finally:
            b.close()
