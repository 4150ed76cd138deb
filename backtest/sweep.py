"""Parameter sweeps: every combination of `--sweep key=v1,v2,...` runs as its own backtest in a
process pool (all cores), each run keeps its own report folder, and a table ranks them by one
metric."""

from __future__ import annotations

import copy
import ctypes
import itertools
import math
import multiprocessing
import os
import signal
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, cast

from pydantic import ValidationError

from config.loader import read_toml
from config.messages import problem_lines, show
from config.settings import Settings


class SweepError(ValueError):
    """A bad --sweep option; the message is the one line users see."""


class Terminated(BaseException):
    """SIGTERM reached the sweep: its runs under way are stopped, as on Ctrl-C (exit 143)."""


def _terminated_in(owner: int) -> Callable[[int, Any], None]:
    """The sweep's SIGTERM handler: `Terminated` in the sweep's process (`owner`); a worker
    forked before it reset the handler (`_run_one`) dies of the signal, as it would have."""
    def handler(signum: int, frame: Any) -> None:
        if os.getpid() == owner:
            raise Terminated
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    return handler


@dataclass(frozen=True, slots=True, kw_only=True)
class Axis:
    key: str
    values: tuple[Any, ...]


def _shown(text: str) -> str:
    """`text` quoted for an error line, cut to 80 characters."""
    return repr(text if len(text) <= 80 else text[:77] + "...")


def _value(option: str, text: str) -> Any:
    """One value as TOML (a number, a bool, a "string", an [array], an {inline table}); a bare
    word that is not TOML is that string (mode=paper,live), and anything else is refused."""
    if not text:
        raise SweepError(f"--sweep {_shown(option)}: an empty value (two commas, or one at an end)")
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        if any(c in text for c in "\"'[]{}=#\n"):
            raise SweepError(f"--sweep {_shown(option)}: value {_shown(text)} cannot be read "
                             '(TOML: a number, true/false, a "quoted string", a [list])') from None
        return text
    except RecursionError:  # TOML arrays nested too deep for the parser
        raise SweepError(f"--sweep {_shown(option)}: value nested too deep to read") from None


def _split(option: str, values: str) -> list[str]:
    """`values` cut at each comma outside quotes, brackets and braces (a list value holds
    commas: symbols.list=["A/USDT:USDT","B/USDT:USDT"],["C/USDT:USDT"])."""
    parts: list[str] = []
    depth, quote, start, i = 0, "", 0, 0
    while i < len(values):
        c = values[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1  # the escaped character is the string's
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth < 0:
                raise SweepError(f"--sweep {_shown(option)}: {c!r} closes nothing")
        elif c == "," and depth == 0:
            parts.append(values[start:i].strip())
            start = i + 1
        i += 1
    if quote or depth:
        what = f"a string opened with {quote} is" if quote else "a [ or { is"
        raise SweepError(f"--sweep {_shown(option)}: {what} not closed")
    return [*parts, values[start:].strip()]


def parse_axis(option: str) -> Axis:
    """`section.key=v1,v2,...`: the values are split at the commas between them (not inside a
    quoted string, a list or an inline table) and each read as TOML (see `_value`)."""
    key, sep, values = option.partition("=")
    if not sep or not key.strip() or "." not in key or not values.strip():
        raise SweepError(f"--sweep {_shown(option)}: expected section.key=value1,value2,...")
    return Axis(key=key.strip(), values=tuple(_value(option, v) for v in _split(option, values)))


def combinations(axes: list[Axis]) -> list[dict[str, Any]]:
    """Every combination of the axes' values. A key given twice is refused (found by review:
    the second one replaced the first in every combination, silently running duplicates)."""
    for i, axis in enumerate(axes):
        twice = [a for a in axes[i + 1:] if a.key == axis.key]
        if twice:
            values = ",".join(str(v) for a in (axis, *twice) for v in a.values)
            raise SweepError(f"--sweep {axis.key}: given twice; put every value in one "
                             f"--sweep ({axis.key}={values})")
    return [dict(zip((a.key for a in axes), combo, strict=True))
            for combo in itertools.product(*(a.values for a in axes))]


def read_config(config: Path) -> dict[str, Any]:
    """The config file's tables, read once for the whole sweep (`settings_with`'s `raw`)."""
    return read_toml(config.expanduser(), str(config))


def settings_with(config: Path, overrides: dict[str, Any],
                  raw: dict[str, Any] | None = None) -> Settings:
    """The config with dotted keys replaced, validated like the file itself. `raw`: the file's
    tables as the sweep read them at its start (every run of a sweep starts from the same
    config, even if the file is edited while the sweep runs); None reads the file now."""
    raw = copy.deepcopy(raw) if raw is not None else read_config(config)
    for key, value in overrides.items():
        node = raw
        *path, last = key.split(".")
        for part in path:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SweepError(f"--sweep {key}: {part} is not a section")
        node[last] = value
    _own_files_only(raw, overrides)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:  # the config's own messages (found by review: pydantic's
        # raw text, an empty key and the whole config dumped for a cross-key rule)
        lines = problem_lines(Settings, exc)
        named = lines[0].split(":", 1)[0]  # the line shows its own key's value (or hides it)
        combo = ", ".join(f"{k}={show(v)}" for k, v in overrides.items() if k != named)
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise SweepError(f"--sweep{' ' + combo if combo else ''}: {lines[0]}{more}") from None
    settings._base_dir = config.expanduser().absolute().parent
    return settings


def _own_files_only(raw: dict[str, Any], overrides: dict[str, Any]) -> None:
    """A run whose `symbols.list` comes from the sweep keeps the config's `paper.csv_files` of
    its own symbols only (found by review: on the worked example's config, which names a file
    per symbol, every run leaving a symbol out was refused, `"..." is not in symbols.list`,
    a check against typos in the config itself, which the sweep validated at its start)."""
    if "symbols.list" not in overrides or any(k.startswith("paper.csv_files") for k in overrides):
        return
    paper, listed = raw.get("paper"), raw.get("symbols", {}).get("list")
    if not isinstance(paper, dict) or not isinstance(listed, list):
        return
    files = paper.get("csv_files")
    if isinstance(files, dict):
        paper["csv_files"] = {s: f for s, f in files.items() if s in listed}


def run_all(runs: list[dict[str, Any]], worker: Callable[[int, dict[str, Any]], dict[str, Any]],
            processes: int | None = None) -> list[dict[str, Any]]:
    """Run `worker(index, overrides)` for each combination across processes, in input order.

    Each run has its own process (at most `processes` at once), which sends its result back. A
    run that raises is a `failed` row with its one-line error, and the other runs go on (found
    by review: one run's error stopped the whole sweep, the finished runs unranked and the
    others never run). Ctrl-C (SIGINT to this process) stops the runs under way at once:
    the workers leave SIGINT to this process, which terminates them. (The executor used before
    waited for the runs under way and the ones already handed to a worker: a sweep went on
    computing for 10 s after Ctrl-C with runs of 4 s, for minutes with long runs.) A run whose
    process dies without a result (the kernel's OOM killer, a kill -9) is one SweepError
    naming it (found by review: with multiprocessing.Pool its task was lost and the sweep
    waited for it for ever)."""
    n = processes or os.cpu_count() or 1
    main = threading.current_thread() is threading.main_thread()  # (signal's own rule)
    previous = signal.signal(signal.SIGTERM, _terminated_in(os.getpid())) if main else None
    try:
        if n <= 1 or len(runs) <= 1:  # here: SIGTERM ends the run under way as well
            return [_outcome(worker, i, r) for i, r in enumerate(runs)]
        return _in_processes(runs, worker, n)
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)


def _in_processes(runs: list[dict[str, Any]],
                  worker: Callable[[int, dict[str, Any]], dict[str, Any]],
                  n: int) -> list[dict[str, Any]]:
    """`run_all`'s process pool. SIGTERM (`kill PID`, `timeout`) raises `Terminated` here, so
    the runs under way are stopped as on Ctrl-C (found by review: the sweep's process died at
    once and its workers went on as orphans, writing reports into `--out` after the command
    had exited and holding the folder's lock, which refused the next sweep there)."""
    todo = list(enumerate(runs))[::-1]
    results: dict[int, dict[str, Any]] = {}
    running: dict[Any, tuple[int, Any]] = {}
    try:
        while todo or running:
            while todo and len(running) < n:
                index, overrides = todo.pop()
                _start(worker, index, overrides, running)
            for ready in wait(list(running)):
                index, result = _receive(cast(Any, ready), running, runs)
                results[index] = result
    except BaseException:
        for _, process in running.values():
            process.terminate()
        for _, process in running.values():
            process.join()
        raise
    return [results[i] for i in range(len(runs))]


def _start(worker: Callable[[int, dict[str, Any]], dict[str, Any]], index: int,
           overrides: dict[str, Any], running: dict[Any, tuple[int, Any]]) -> None:
    """One run in its own process, its result sent back through a pipe whose sending end is
    closed here: the run's process alone holds it, so its death reads as end of file."""
    receive, send = multiprocessing.Pipe(duplex=False)
    process = multiprocessing.Process(target=_run_one, daemon=True,
                                      args=(worker, index, overrides, send))
    process.start()
    send.close()
    running[receive] = (index, process)


def _receive(receive: Any, running: dict[Any, tuple[int, Any]],
             runs: list[dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """A finished run's index and row (a `failed` row for a run that raised); SweepError for a
    process that ended without a result (killed, out of memory)."""
    index, process = running.pop(receive)
    try:
        ok, value = receive.recv()
    except EOFError:  # it died before sending anything
        process.join()
        raise SweepError(
            f"--sweep run-{index:03d} ({_combo(runs[index])}): its process ended "
            f"without a result (exit code {process.exitcode}; killed, out of "
            "memory?)") from None
    finally:
        receive.close()
    process.join()
    return index, value if ok else failed(index, runs[index], value)


def _combo(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in overrides.items())


def failed(index: int, overrides: dict[str, Any], error: str) -> dict[str, Any]:
    """The ranking's row of a run that raised: its values and its one-line error."""
    return {"run": index, "overrides": overrides, "summary": None, "report": None,
            "error": error}


def error_line(exc: BaseException) -> str:
    """One line for a run's exception: the message of the backtest's own errors (they are
    written for users), the type and message of any other, without line breaks, cut to 300
    characters."""
    from backtest.candles import DataError
    from backtest.driver import StrategyStopped
    from config.errors import ConfigError

    own = isinstance(exc, DataError | SweepError | StrategyStopped | ConfigError)
    text = " ".join((str(exc) if own else f"{type(exc).__name__}: {exc}").split())
    return text if len(text) <= 300 else text[:297] + "..."


def _outcome(worker: Callable[[int, dict[str, Any]], dict[str, Any]], index: int,
             overrides: dict[str, Any]) -> dict[str, Any]:
    try:
        return worker(index, overrides)
    except Exception as exc:  # noqa: BLE001 - one run's error is its row, not the sweep's end
        return failed(index, overrides, error_line(exc))


def _run_one(worker: Callable[[int, dict[str, Any]], dict[str, Any]], index: int,
             overrides: dict[str, Any], send: Any) -> None:
    """One run in its own process. It ignores SIGINT: a Ctrl-C in a terminal reaches every
    process of the group, and the parent ends the runs (no traceback from each of them). An
    exception is sent as its line (an exception object may not pickle)."""
    _die_with_the_sweep()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's handler is not ours
    try:
        result: tuple[bool, Any] = (True, worker(index, overrides))
    except Exception as exc:  # noqa: BLE001 - handed to the parent as the run's error
        result = (False, error_line(exc))
    send.send(result)
    send.close()


def _die_with_the_sweep() -> None:
    """On Linux, the kernel kills this run when the process that started it dies
    (PR_SET_PDEATHSIG: the sweep, or the fork server that dies with it): found by review, a
    sweep killed with SIGKILL (or by the out-of-memory killer) left its runs as orphans,
    computing and writing reports into `--out` after it, holding its lock. A sweep that died
    before this took effect is seen too (forked: no longer its parent; else its sentinel):
    the run ends."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: no such call
        return
    sweep = multiprocessing.parent_process()
    forked = multiprocessing.get_start_method(allow_none=True) == "fork"
    if sweep is not None and (os.getppid() != sweep.pid if forked else not sweep.is_alive()):
        os._exit(1)


def rank_value(summary: dict[str, Any], metric: str) -> float | None:
    """The number a run is ranked by. Sortino and profit factor are None in the report when
    there is no downside (no losing day; no losing trade): then they are unbounded, the best a
    run can be, not the worst (found by review: the shipped example's best Sharpe run ranked
    last by Sortino for having no losing day). Such a run ranks as +inf when it made money;
    None stays for a metric that is truly undefined (no trades, too few days)."""
    value = summary.get(metric)
    if value is not None:
        return float(value)
    if metric == "sortino_daily" and (summary.get("sharpe_daily") or 0) > 0:
        return math.inf  # variation, a positive mean, and no losing day
    if metric == "profit_factor" and summary.get("trades") and float(summary["net_pnl"]) > 0:
        return math.inf  # winning trades and no losing one
    return None


def ranked(rows: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Best first. A run with no trades ranks after every run with trades, whatever the metric
    (found by review: by drawdown, a run that never traded had 0, the best, and ranked first);
    then a run without the metric (None) ranks last; a run that failed (`failed`) after every
    run that finished. Ties keep input order."""
    def key(row: dict[str, Any]) -> tuple[bool, bool, bool, float]:
        if row.get("error") is not None:
            return (True, True, True, 0.0)
        value = rank_value(row["summary"], metric)
        return (False, not row["summary"].get("trades"), value is None,
                -value if value is not None else 0.0)

    return sorted(rows, key=key)
