"""Load-time check of ``exchange.secrets_file``: it must exist, be private (0600) and be TOML.

Reading the credentials themselves is ``exchange.ccxt.secrets.load_credentials``'s job (pass it
``settings.secrets_path()``); the values never enter ``Settings``, which gets printed and logged.
"""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path


def check_secrets_file(path: Path) -> str | None:
    """``None`` if ``path`` is a regular, owner-only TOML file; otherwise what is wrong."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return f"file not found: {path}"
    except OSError as exc:
        return f"cannot read {path} ({exc.strerror or exc})"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file"
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return f"{path} has mode {mode:04o}; must be 0600 (run: chmod 600 {path})"
    try:
        with path.open("rb") as handle:
            tomllib.load(handle)  # syntax only; the decoder's messages quote no values
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {path} ({exc})"
    except tomllib.TOMLDecodeError as exc:
        return f"{path}: TOML syntax error: {exc}"
    return None
