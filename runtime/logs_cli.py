"""`bot.py logs SYMBOL [-f] [-n N]`: the last lines of a symbol's (or the bot's, or a worker's)
log stream, and with ``-f`` the lines written after them."""

from __future__ import annotations

import re
import threading
from pathlib import Path

from config.settings import Settings
from observability.log_format import escaped, say
from observability.log_streams import symbol_log_path
from observability.log_tail import Position, follow, tail
from runtime.cli import UsageError, fail, pick_account


def show_logs(
    settings: Settings, data_dir: Path, symbol: str, follow_: bool, lines: int, account: str | None
) -> int:
    logs_dir = data_dir / "logs"
    known = True  # a stream the bot writes: -f waits for its file
    name: str | None = None
    try:
        if not settings.has_accounts:
            pick_account(settings, account, required=False)  # only checks a given --account
            path = logs_dir / "bot.log" if symbol == "bot" else symbol_log_path(logs_dir, symbol)
            known = symbol == "bot" or symbol in (settings.symbols.list if settings.symbols else ())
        elif re.fullmatch(r"worker-\d+", symbol):  # a worker's whole stream (run --workers)
            path = logs_dir / f"{symbol}.log"
        elif symbol == "bot":
            name = pick_account(settings, account, required=False) if account else None
            path = logs_dir / "bot.log" if name is None else symbol_log_path(logs_dir, None, name)
        else:
            name = pick_account(settings, account, symbol, required=False)
            if name is None:
                return fail(f"{symbol!r} is not traded by any account in the config"
                            f"{_hint(settings, symbol)}")
            path = symbol_log_path(logs_dir, symbol, name)
    except UsageError as exc:
        return fail(str(exc))
    end: Position | None = None
    down = None  # run --workers: the stream's worker down or hung, said after its last lines
    whole = re.fullmatch(r"worker-(\d+)", symbol)
    if settings.has_accounts and (whole or name is not None):
        from runtime.control_cli import worker_not_serving

        down = (worker_not_serving(data_dir, worker=int(whole[1])) if whole
                else worker_not_serving(data_dir, name))
    if not path.exists():
        if not (follow_ and known):
            hint = "" if known else _hint(settings, symbol)
            return fail(f"no log for {symbol!r} at {path}{hint}")
        # -f waits for it as `tail -F` does (found by review: following a symbol of a bot just
        # started, before its first line, failed with "no log")
        say(escaped(f"bot.py: no log for {symbol!r} at {path} yet, waiting for it"))
    try:
        if path.exists():
            shown, end = tail(path, lines)
            for line in shown:
                print(line, end="" if line.endswith("\n") else "\n")
        if down is not None:  # found by review: a dead worker's last lines read as current
            say(escaped(f"bot.py: {down}: no new lines until it runs again"))
        if follow_:
            stop = threading.Event()
            try:  # no tail printed (no file yet): the file from its beginning once it appears
                for line in follow(path, stop, after=end, from_start=end is None):
                    print(line, end="" if line.endswith("\n") else "\n", flush=True)
            except KeyboardInterrupt:
                stop.set()
    except OSError as exc:  # found by review: "unexpected PermissionError in logs" + traceback
        if isinstance(exc, BrokenPipeError):
            raise  # `| head`: dispatch's reader_gone
        where = exc.filename or path
        return fail(f"log file {where} cannot be read ({exc.strerror or exc})")
    return 0


def _hint(settings: Settings, symbol: str) -> str:
    """` (did you mean "BTC/USDT:USDT"?)` for a symbol that is another form of a configured
    one ("btc/usdt:usdt", "BTCUSDT"; found by review: only "no log for 'btc/usdt:usdt'")."""
    from signals.parsing import did_you_mean

    return did_you_mean(symbol, {s for account in settings.account_settings()
                                 if account.symbols is not None for s in account.symbols.list})
