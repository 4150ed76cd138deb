"""API credentials: from environment variables or a 0600 TOML file; never printable.

`Credentials` keeps the key and secret out of `repr`/`str`/`format` and out of pickles; read
them only through `.api_key` / `.secret` when configuring a ccxt instance. The TOML file must
be owned-only (`chmod 600`); anything looser is refused, naming the path and its mode.

TOML layout (either form):
    api_key = "..."            [bybit]                 <- a table named after the exchange id
    secret = "..."             api_key = "..."
                               secret = "..."
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path


class CredentialsError(ValueError):
    """Credentials missing or stored unsafely. The message never contains a secret."""


class Credentials:
    """An API key pair that does not print itself."""

    __slots__ = ("_key", "_secret", "source")

    def __init__(self, api_key: str, secret: str, source: str) -> None:
        if not api_key or not secret:
            raise CredentialsError(f"empty API key or secret from {source}")
        self._key = api_key
        self._secret = secret
        self.source = source

    @property
    def api_key(self) -> str:
        return self._key

    @property
    def secret(self) -> str:
        return self._secret

    def redaction_list(self) -> tuple[str, ...]:
        """Strings that must never appear in output (for `errors.redact`)."""
        return (self._key, self._secret)

    def __repr__(self) -> str:
        return f"Credentials(source={self.source!r}, api_key=<redacted>, secret=<redacted>)"

    __str__ = __repr__

    def __reduce__(self):  # refuse to be pickled into a log/queue by accident
        raise TypeError("Credentials cannot be pickled")


def _check_mode(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise CredentialsError(
            f"secrets file {path} has mode {mode:04o}; it must be 0600 (chmod 600 {path})"
        )


def load_from_file(path: Path, exchange_id: str | None = None) -> Credentials:
    """Read `api_key`/`secret` from a 0600 TOML file (top level or `[exchange_id]` table)."""
    path = Path(path)
    if not path.is_file():
        raise CredentialsError(f"secrets file {path} does not exist")
    _check_mode(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a BOM, as in the config
    except tomllib.TOMLDecodeError as exc:
        # the decoder's message quotes no values, only positions
        raise CredentialsError(f"secrets file {path} is not valid TOML: {exc}") from None
    table = data.get(exchange_id, data) if exchange_id else data
    key, secret = table.get("api_key"), table.get("secret", table.get("api_secret"))
    if not isinstance(key, str) or not isinstance(secret, str):
        raise CredentialsError(f"secrets file {path} lacks string api_key and secret")
    return Credentials(key, secret, source=f"file:{path}")


def load_from_env(
    key_env: str, secret_env: str, environ: Mapping[str, str] | None = None
) -> Credentials:
    """Read the key pair from the named environment variables."""
    env = os.environ if environ is None else environ
    missing = [name for name in (key_env, secret_env) if not env.get(name)]
    if missing:
        raise CredentialsError(f"environment variable(s) not set: {', '.join(missing)}")
    return Credentials(env[key_env], env[secret_env], source=f"env:{key_env},{secret_env}")


def load_credentials(
    *,
    api_key_env: str | None = None,
    api_secret_env: str | None = None,
    secrets_file: Path | None = None,
    exchange_id: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials | None:
    """The secrets file when one is configured (config.toml: the env vars apply when
    secrets_file is empty; found by review: env vars left in a shell, of a testnet or another
    account, silently won over the configured file), else the env vars (when both names are
    given and set), else None (public-data-only use, e.g. the dry-run ticker source)."""
    env = os.environ if environ is None else environ
    if secrets_file is not None:
        return load_from_file(Path(secrets_file), exchange_id)
    if api_key_env and api_secret_env:
        return load_from_env(api_key_env, api_secret_env, env)  # unset ones raise, named
    return None
