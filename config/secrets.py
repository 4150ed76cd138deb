"""Load-time check of ``exchange.secrets_file``: it must exist, be private (0600) and be TOML,
and the key and secret in it must be free of whitespace; and, at start, the environment
variables a live account takes its key from (``credential_problem``).

Reading the credentials themselves is ``exchange.ccxt.secrets.load_credentials``'s job (pass it
``settings.secrets_path()``); the values never enter ``Settings``, which gets printed and logged,
and no message here quotes one.

Whitespace around a key or secret (a newline or space pasted with it) is refused, not
stripped: the loader hands the value to the exchange as it is, and the venue would answer
every signed call with an authentication error naming no cause.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from config.errors import toml_syntax


def check_secrets_file(path: Path, exchange_id: str | None = None) -> str | None:
    """``None`` if ``path`` is a regular, owner-only TOML file whose key and secret (top level,
    or the ``[exchange_id]`` table) hold no whitespace; otherwise what is wrong."""
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
        with path.open("rb") as handle:  # a byte-order mark is skipped, as in the config
            data = tomllib.loads(handle.read().decode("utf-8-sig"))  # messages quote no values
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read {path} ({exc})"
    except tomllib.TOMLDecodeError as exc:
        return toml_syntax(str(path), exc)
    table = data.get(exchange_id, data) if exchange_id else data
    for name in ("api_key", "secret", "api_secret"):
        value = table.get(name) if isinstance(table, dict) else None
        problem = whitespace_problem(value) if isinstance(value, str) else None
        if problem:
            where = f"[{exchange_id}] " if table is not data else ""
            return f"{path}: {where}{name} {problem}"
    return None


def whitespace_problem(value: str) -> str | None:
    """What is wrong with a key or secret's whitespace (never quoting it), or None."""
    if value != value.strip():
        return ("has leading or trailing whitespace (a newline or space pasted with it?): "
                "remove it, the exchange would refuse the key")
    if any(char.isspace() for char in value):
        return "has whitespace inside: an API key or secret never does (check what was pasted)"
    return None


def credential_problem(settings: Any, environ: Mapping[str, str] | None = None) -> str | None:
    """One line for the first live account whose key comes from environment variables (no
    secrets_file) that are set but empty or padded with whitespace; None if there is none.
    A variable that is not set at all is left to the exchange's start ("not set")."""
    env = os.environ if environ is None else environ
    if settings.bot.mode != "live":
        return None
    for index, account in enumerate(settings.account_settings()):
        e = account.exchange
        at = f"accounts[{index}]." if settings.has_accounts else ""
        if e.id != "paper" and not e.secrets_file and not (e.api_key_env and e.api_secret_env):
            # found by review: the bot started without a key and every private call failed
            empty = "api_key_env" if not e.api_key_env else "api_secret_env"
            return (f"{at}exchange.{empty}: empty, and no exchange.secrets_file: live trading "
                    "needs the API key and secret (name both environment variables, or give "
                    "a secrets file)")
        if e.id == "paper" or e.secrets_file or not (e.api_key_env and e.api_secret_env):
            continue
        for key, name in (("api_key_env", e.api_key_env), ("api_secret_env", e.api_secret_env)):
            value = env.get(name)
            if value is None:
                continue
            problem = "is set but empty" if value == "" else whitespace_problem(value)
            if problem:
                return f"{at}exchange.{key}: environment variable {name} {problem}"
    return None


def secret_env_names(settings: Any) -> frozenset[str]:
    """The environment variables the configuration names as holding a secret: every account's
    exchange key and secret, the signal, dashboard and Telegram tokens, and with PostgreSQL
    the database password (PGPASSWORD: the URL holds none). What the bot hands a
    program of the user's (`supervision.alert_command`) leaves them out: the alert needs none of
    them, and a script that logs its environment would write the exchange key."""
    names = {settings.signals.token_env, settings.signals.websocket_token_env,
             settings.dashboard.token_env, settings.telegram.token_env}
    if settings.storage.url or settings.cluster.database_url:
        names.add("PGPASSWORD")  # storage.url holds no password: libpq reads it from here
    for account in settings.account_settings():
        names |= {account.exchange.api_key_env, account.exchange.api_secret_env}
    return frozenset(n for n in names if n)
