"""What every settings section builds on: the frozen model refusing unknown keys, and the error
for a value that is wrong only together with another (used by ``config.sections``,
``config.service_sections`` and ``config.settings``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError


def _cross(field: str, detail: str) -> PydanticCustomError:
    """An error about ``field`` (dotted, relative to the model raising it) that involves others."""
    return PydanticCustomError("cross_field", "{detail}", {"field": field, "detail": detail})


def _check_postgres_url(field: str, url: str) -> None:
    """A PostgreSQL URL (storage.url, cluster.database_url): "" or postgresql://user@host:port/db
    with no password. Checked here, not by a field pattern: a field error would echo the URL,
    password too; so would libpq's error for a URL it cannot parse."""
    from urllib.parse import parse_qsl, urlsplit

    if not url:
        return
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in ("postgresql", "postgres"):
        raise _cross(field, f'must be a postgresql://user@host:port/db URL or "" '
                            f"(got scheme {scheme or 'none'!r})")
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # its text may quote the URL
        raise _cross(field, 'not a valid URL; must be a postgresql://user@host:port/db URL '
                            'or ""') from None
    # libpq also takes the password (and the client key's, sslpassword) as a query parameter,
    # and error messages that quote the URL would show it
    keys = {k.strip().lower() for k, _ in parse_qsl(parts.query, keep_blank_values=True)}
    if password is not None or keys & {"password", "sslpassword"}:
        raise _cross(field, "must not hold a password (config files are not secret stores): "
                            "give it in PGPASSWORD or ~/.pgpass")


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
