"""Load ``config.toml`` into frozen ``Settings``; every problem is a one-line ``ConfigError``."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from pydantic import ValidationError

from config.errors import ConfigError, toml_syntax
from config.locate import key_lines, line_of_problem
from config.messages import problem_lines
from config.secrets import check_secrets_file
from config.settings import BotSettings, ExchangeSettings, Settings


def read_toml(path: Path, label: str | None = None) -> dict[str, Any]:
    """Parse a TOML file; missing/unreadable files and syntax errors become ConfigError."""
    label = label or str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read()
        # a leading byte-order mark (an editor's "UTF-8 with BOM") is skipped, as for candle
        # files (found by review: `TOML syntax error: Invalid statement (line 1, column 1)`)
        return tomllib.loads(data.decode("utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{label}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{label}: is a directory, expected a TOML file") from None
    except PermissionError:
        raise ConfigError(f"{label}: cannot read the file (permission denied)") from None
    except OSError as exc:
        raise ConfigError(f"{label}: cannot read the file ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:  # the line too: nobody counts bytes (found by review)
        line = exc.object[:exc.start].count(b"\n") + 1
        raise ConfigError(f"{label}:{line}: not valid UTF-8 (line {line}, byte offset "
                          f"{exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(toml_syntax(label, exc)) from None


def _raise_problems(label: str, lines: list[str], path: Path | None = None) -> NoReturn:
    """One ConfigError: the first problem (and how many more), each as `file:line: key: ...`
    where the file sets the key or its table (config/locate.py), else `file: key: ...`."""
    where = _locator(path)
    problems = tuple(f"{label}{where(line)}: {line}" for line in lines)
    message = problems[0]
    if len(problems) > 1:
        others = ", ".join(line.split(": ", 1)[0] for line in lines[1:4])  # not a symbol's ":"
        more = "..." if len(problems) > 4 else ""
        message += f" (and {len(problems) - 1} more: {others}{more})"
    raise ConfigError(message, problems)


_KEY = r"[a-z_]+(?:\[\d+\])?(?:\.[A-Za-z0-9_\[\]]+)+"
_KEYED = re.compile(rf"^{_KEY}(?: / {_KEY})*(?:(?: \([^)]*\))?: | = )")
"""A problem line that starts with its key (`signals.token_env: ...`, `bot.mode / exchange.id:
...`) or its key's value (`exchange.stop_mode = "bot": ...`, a cluster node's refusal: found
by review, printed bare)."""


def located(label: str, message: str, path: Path | None = None) -> str:
    """A ConfigError raised once the settings were loaded (`run`'s services: a token variable
    that is empty, a dashboard beyond loopback without a token) as the loader words its own:
    `file:line: key: ...` (found by review: 'bot.py: error: signals.token_env: environment
    variable BOT_SIGNAL_TOKEN must hold the token' named no file). ``path``: the text read
    (a worker's copy), default the file at ``label``."""
    if message.startswith(label) or not _KEYED.match(message):
        return message
    return f"{label}{_locator(path or Path(label).expanduser())(message)}: {message}"


def _locator(path: Path | None) -> Callable[[str], str]:
    """`:N` for a problem line whose key the file at `path` sets (or whose table), else ""."""
    try:
        lines = key_lines(path.read_text(encoding="utf-8-sig")) if path is not None else {}
    except (OSError, UnicodeDecodeError):
        lines = {}

    def where(problem: str) -> str:
        key = problem.split(": ", 1)[0].split(" ", 1)[0]  # `a.b: ...`, `a.b and c.d name ...`
        number = line_of_problem(lines, key, problem[len(key):]) if key else None
        return f":{number}" if number is not None else ""

    return where


def _apply_data_dir_override(raw: dict[str, Any], override: str | Path | None) -> None:
    if not override:
        return
    bot = raw.setdefault("bot", {})
    if isinstance(bot, dict):
        bot["data_dir"] = str(Path(override).expanduser().absolute())


def _file_checks(settings: Settings, csv_given: Callable[[str], bool],
                 data_dir_key: str = "bot.data_dir") -> list[str]:
    """Checks that need the file system (run only once the values themselves are valid).
    `csv_given(symbol)`: the command line gives that symbol's candle file (bot.py backtest's
    --csv or --data), so its paper.csv_files entry is not read and need not exist.
    `data_dir_key`: what set the data dir (the command line's --data-dir names no file line)."""
    problems = []
    shared = _shared_folder(settings.data_dir_path())
    if shared:
        problems.append(f"{data_dir_key}: {shared}")
    for index, account in enumerate(settings.account_settings()):
        at = f"accounts[{index}]." if settings.has_accounts else ""
        secrets = account.secrets_path()
        if secrets is not None:
            problem = check_secrets_file(secrets, account.exchange.id)
            if problem:
                problems.append(f"{at}exchange.secrets_file: {problem}")
        files = {} if account.storage.url else {"storage.path": account.storage.path}
        if account.exchange.id == "paper":
            files["paper.store"] = account.paper.store
        for key, name in files.items():
            path = Path(os.path.normpath(account.resolve(name)))
            problem = (_unmakeable(path, settings.data_dir_path())
                       or _bots_own(path, settings.data_dir_path(), "the database"))
            if problem:
                problems.append(f"{at}{key}: {problem}")
        if account.exchange.id != "paper":  # paper mode reads no markets cache
            cache = Path(os.path.normpath(account.resolve(account.exchange.markets_cache)))
            databases = [Path(os.path.normpath(account.resolve(n))) for n in files.values()]
            problem = (f"the same file as storage.path ({cache}); the markets cache needs a "
                       "file of its own" if cache in databases
                       else _bots_own(cache, settings.data_dir_path(), "the markets cache"))
            if problem:
                problems.append(f"{at}exchange.markets_cache: {problem}")
        if account.exchange.id == "paper" and not account.storage.url:
            database, store = (Path(os.path.normpath(account.resolve(name))) for name in
                               (account.storage.path, account.paper.store))
            if database == store:  # found by review: "unexpected RuntimeError ... schema 4"
                problems.append(f"{at}paper.store: the same file as storage.path ({store}); "
                                "the paper exchange needs a file of its own")
        if account.paper.price_source == "csv":
            for symbol in (s for s in account.symbol_list if not csv_given(s)):
                name = account.paper.csv_files[symbol]
                path = account.resolve_config_path(name)
                if not path.is_file():
                    what = "not a file" if path.exists() else "file not found"
                    problems.append(f'{at}paper.csv_files["{symbol}"]: {what}: {path}')
    return problems


def _unmakeable(path: Path, data_dir: Path) -> str | None:
    """Why the database file at `path` can be neither opened nor created: a folder there, or a
    file where one of its folders should be (found by review: `run` said "cannot open the lock
    file (File exists)" naming no key, `signal` "unexpected FileExistsError"). None when it
    can be, or when the data dir itself is in the way (the data dir's own check says so)."""
    if os.path.isdir(path):
        return f"{path} is a directory, expected a database file"
    blocker = next((p for p in path.parents if os.path.lexists(p)), None)
    if blocker is None or os.path.isdir(blocker) or data_dir.is_relative_to(blocker):
        return None
    return f"cannot create {path}: {blocker} is not a directory"


_OWN = {"bot.lock": "lock file", "status.json": "status file", "status.json.tmp": "status file",
        "workers-config.toml": "workers' config copy", "venue_blocks.json": "venue blocks file",
        "telegram_outbox.db": "Telegram outbox", "alert_hooks.db": "alert hook outbox",
        "logs": "logs folder", "locks": "locks folder"}
"""What the bot itself writes at the top of its data dir (runtime/runner.py, bot_locks.py,
workers.py, supervision/status.py, hook_outbox.py, notifications/outbox.py,
exchange/venue_blocks.py), and the worker status files status.worker-N.json."""
_WORKER_STATUS = re.compile(r"status\.worker-[0-9]+\.json(\.tmp)?")


def _bots_own(path: Path, data_dir: Path, noun: str) -> str | None:
    """A database (storage.path, paper.store) or the markets cache (`noun`) on a file or in a
    folder the bot itself writes in its data dir (found by running bot.py: "status.json"
    started, its database replaced by the status every second; "logs/bot.log" started, log
    lines appended to the database; "bot.lock" was "another bot is already using" it, with
    the bot's own PID). None if not."""
    try:
        parts = path.relative_to(Path(os.path.normpath(data_dir))).parts
    except ValueError:
        return None
    if not parts:
        return None
    what = _OWN.get(parts[0]) or ("worker status file" if _WORKER_STATUS.fullmatch(parts[0])
                                  else None)
    if what is None or (len(parts) > 1 and not what.endswith("folder")):
        return None
    inside = "in " if len(parts) > 1 else ""
    return (f"{path} is {inside}the bot's own {what} in the data dir; give {noun} a file of "
            "its own")


_CODE = Path(os.path.realpath(Path(__file__).resolve().parents[1]))
"""The bot's own checkout (the folder of bot.py)."""


def _shared_folder(data_dir: Path) -> str | None:
    """A data dir that is not the bot's to make private: the bot makes its data dir 0700 and
    everything in it 0600 (runtime/private_files.py), which on the file system's root, the
    user's home folder, the bot's own checkout or a folder above it (its code, .git and venv)
    or a shared sticky folder such as /tmp (as root: its sticky bit and
    world write gone) changes files that are not the bot's. None when the folder is fine."""
    path = Path(os.path.normpath(data_dir))
    advice = "; give the bot a folder of its own, e.g. {}".format(path / "bot-data")
    real = Path(os.path.realpath(path))  # a symlink to one of them too (it walks the target)
    if real == Path(real.anchor):
        return f"{path} is the file system's root{advice}"
    if real == Path(os.path.realpath(Path.home())):
        return (f"{path} is your home folder: the bot makes everything in its data dir "
                f"private{advice}")
    if _CODE.is_relative_to(real):  # `--data-dir .` in the checkout (found by review)
        return (f"{path} holds the bot's own code ({_CODE}): the bot makes everything in its "
                f"data dir private{advice}")
    try:
        mode = path.stat().st_mode
    except OSError:
        return None  # not there yet: the bot creates it, private
    if mode & 0o1000 and mode & 0o002:  # sticky and world-writable: /tmp, /var/tmp
        return f"{path} is a folder shared by every user (sticky, world-writable){advice}"
    return None


def _venue(exchange: ExchangeSettings) -> tuple[str, str]:
    """(name, where) of the real exchange an account's keys are used on."""
    mode = " sandbox" if exchange.sandbox else " demo" if exchange.demo else ""
    where = f" at {exchange.api_url.lower()}" if exchange.api_url else ""
    return exchange.id + mode, where


def _key_sources(account: Settings) -> list[tuple[str, str, str]]:
    """(key, identity, shown) of the place the account's API key comes from: the secrets file
    when one is configured (the env vars are then not read: exchange/ccxt/secrets.py
    load_credentials), else the env vars when both names are given. Found by review: the env
    vars counted first, so two accounts with their own files were refused as sharing the
    inherited "BOT_API_KEY" that neither reads."""
    e, secrets = account.exchange, account.secrets_path()
    if secrets is not None:
        return [("exchange.secrets_file", f"file:{secrets.resolve()}", str(secrets))]
    if e.api_key_env and e.api_secret_env:
        return [("exchange.api_key_env", f"env:{e.api_key_env}", f'"{e.api_key_env}"')]
    return []


def _shared_keys(settings: Settings) -> list[str]:
    """Live and dry-run accounts trading one symbol need their own exchange accounts: two on
    one venue with one key would adopt each other's position and cancel each other's stops.
    One exchange account split by symbol (disjoint symbol lists) is allowed."""
    if settings.bot.mode not in ("live", "dry-run"):
        return []
    problems: list[str] = []
    seen: dict[tuple[str, str, str], list[tuple[int, str, set[str]]]] = {}
    for index, account in enumerate(settings.account_settings()):
        if account.exchange.id == "paper":
            continue
        (name, where), clashes = _venue(account.exchange), []
        symbols = set(account.symbol_list)
        for key, identity, shown in _key_sources(account):
            holders = seen.setdefault((name, where, identity), [])
            for first, first_key, first_symbols in holders:
                both = sorted(first_symbols & symbols)
                if both:
                    clashes.append(
                        f"accounts[{first}].{first_key} and accounts[{index}].{key} name the "
                        f"same key on {name}: {shown}{where}; both accounts would trade {both[0]} "
                        "on one exchange account (give each account its own key)")
            holders.append((index, key, symbols))
        problems += clashes[:1]  # one line per account
    return problems


def _without_inherited(lines: list[str]) -> list[str]:
    """Drop ``accounts[i].<key>`` problems that repeat a top-level ``<key>`` problem: the
    account only inherited the bad value, and the top-level line already names it."""
    top = {line.split(":", 1)[0] for line in lines if not line.startswith("accounts[")}
    kept = []
    for line in lines:
        key = line.split(":", 1)[0]
        if key.startswith("accounts[") and "]." in key and key.split("].", 1)[1] in top:
            continue
        kept.append(line)
    return kept


def configured_data_dir(path: str | Path) -> Path:
    """The file's own ``bot.data_dir``, absolute (loaded settings hold a --data-dir instead)."""
    bot = read_toml(Path(path).expanduser()).get("bot")
    name = bot.get("data_dir") if isinstance(bot, dict) else None
    name = name if isinstance(name, str) else BotSettings.model_fields["data_dir"].default
    base = Path(path).expanduser().absolute().parent
    return Path(os.path.normpath(base / Path(name).expanduser()))


def load_settings(path: str | Path, data_dir_override: str | Path | None = None, *,
                  copy: str | Path | None = None,
                  csv_given: Callable[[str], bool] = lambda symbol: False) -> Settings:
    """Read and validate the TOML file at ``path``.

    Relative paths inside the file (``bot.data_dir``, ``exchange.secrets_file``,
    ``paper.csv_files``) are resolved against the file's folder; ``data_dir_override`` (e.g. a
    ``--data-dir`` flag) is resolved against the current directory and replaces ``bot.data_dir``.
    ``copy``: read the text from this copy of the file instead (a worker of `run --workers`
    runs the config its parent started with, runtime/workers.py), still named and resolved as
    ``path``. ``csv_given``: see `_file_checks`.
    """
    label = str(path)
    path = Path(path).expanduser()  # `--config=~/bot.toml`: no shell expands that ~
    source = path if copy is None else Path(copy)
    raw = read_toml(source, label)
    _apply_data_dir_override(raw, data_dir_override)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        _raise_problems(label, _without_inherited(problem_lines(Settings, exc)), source)
    settings._base_dir = path.expanduser().absolute().parent
    # a --data-dir given on the command line is named as such: the file's bot.data_dir line
    # holds another value (or none)
    data_dir_key = "--data-dir (bot.data_dir)" if data_dir_override else "bot.data_dir"
    file_problems = _file_checks(settings, csv_given, data_dir_key) or _shared_keys(settings)
    if file_problems:
        _raise_problems(label, file_problems, source)
    return settings
