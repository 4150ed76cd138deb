from tests.support.postgres import pg_url  # noqa: F401 - the fixture, for every cluster test
