"""Reading a token from the environment or a private (0600) file; never logged or shown."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from config.errors import ConfigError
from observability.log_format import escaped


def read_token(*, key: str, env_name: str, file: str, base: Path,
               environ: Mapping[str, str] | None = None) -> str:
    """The token from ``file`` (must be 0600) if given, else from ``env_name``; "" when neither
    holds one. Errors name the config key and the file, never the value."""
    if file:
        path = Path(file).expanduser()
        path = path if path.is_absolute() else base / path
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & 0o077:
                raise ConfigError(f"{key}: {path} has mode {mode:04o}; must be 0600 "
                                  f"(run: chmod 600 {path})")
            return path.read_text().strip()
        except OSError as exc:
            raise ConfigError(f"{key}: cannot read {path} ({exc.strerror or exc})") from None
    env = os.environ if environ is None else environ
    return env.get(env_name, "").strip() if env_name else ""


def scrub(text: str, *secrets: str) -> str:
    """``text`` with every secret replaced (exception texts can quote a URL holding a token)."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def one_line(text: str, limit: int = 300) -> str:
    """``text`` for a log line: control characters escaped as the log streams escape them
    (observability/log_format.py `escaped`: a newline in a value from outside would forge a
    second line), cut to ``limit`` (after any scrubbing: never cut a secret)."""
    return escaped(text)[:limit]
