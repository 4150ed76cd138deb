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
    holds one. Errors name the config key and the file, never the value.

    A token with a control character inside (a file holding a second line) is refused: the
    Telegram token is part of a URL, and urllib's refusal quoted that URL as a repr
    (``'/bot4242:...\\n# chat'``), which no scrubbing of the raw token matched (found by review:
    the token reached bot.log)."""
    if file:
        path = Path(file).expanduser()
        path = path if path.is_absolute() else base / path
        try:
            info = path.stat()
            if not stat.S_ISREG(info.st_mode):  # a folder: "chmod 600" was the advice
                raise ConfigError(f"{key}: {path} is not a regular file")
            mode = stat.S_IMODE(info.st_mode)
            if mode & 0o077:
                raise ConfigError(f"{key}: {path} has mode {mode:04o}; must be 0600 "
                                  f"(run: chmod 600 {path})")
            # a byte-order mark is skipped (found by review: it became part of the token, and
            # bytes that are not UTF-8 were "unexpected UnicodeDecodeError in run")
            token = path.read_bytes().decode("utf-8-sig").strip()
        except OSError as exc:
            raise ConfigError(f"{key}: cannot read {path} ({exc.strerror or exc})") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{key}: {path} is not UTF-8 text (byte offset {exc.start})"
                              ) from None
        return _one_line_token(token, f"{key}: {path}")
    env = os.environ if environ is None else environ
    token = env.get(env_name, "").strip() if env_name else ""
    return _one_line_token(token, f"${env_name}")


def _one_line_token(token: str, where: str) -> str:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in token):
        raise ConfigError(f"{where}: the token holds a line break or another control "
                          "character; put the token alone on one line")
    return token


def url_token(token: str, where: str) -> str:
    """``token`` when it can be part of a URL path as it is; a ConfigError naming ``where`` (and
    the position, never the value) for a space or a character that is not printable ASCII
    (found by review: a zero-width space pasted with the Telegram token made every request fail
    in urllib before it was sent, so getMe could not refuse it at start; the bot ran with
    "token could not be checked" and every alert was retried for ever, never delivered)."""
    for i, c in enumerate(token):
        if not (0x21 <= ord(c) <= 0x7E):
            raise ConfigError(f"{where}: the token holds a space or a character that is not "
                              f"printable ASCII (character {i + 1} of {len(token)}); a bot "
                              "token has none: put it exactly as @BotFather gave it")
    return token


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
