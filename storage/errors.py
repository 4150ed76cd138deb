"""StorageError on its own, so the command line can catch it without importing peewee and
psycopg (a third of `bot.py status`'s start)."""


class StorageError(Exception):
    """The database cannot be opened or migrated; the message names the file and the cause."""
