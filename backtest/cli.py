"""`bot.py backtest` and `bot.py download`: arguments and handlers.

Errors are one line on stderr and exit code 2 (bad data names the file and line)."""

from __future__ import annotations

import argparse
import re
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from backtest.candles import (
    Candles,
    DataError,
    counted,
    coverage_holes,
    describe_coverage,
    describe_gaps,
    fmt_ms,
    load,
)
from observability.log_format import escaped, say

EXIT_USAGE = 2


def fail(message: str) -> int:
    say(f"bot.py: error: {escaped(message)}")  # a file's bytes too
    return EXIT_USAGE


def parse_when(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    for fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return int(datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp() * 1000)
        except ValueError:
            continue
    raise DataError(f"{option}: expected YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC), got {text!r}")


def file_name(symbol: str, timeframe: str) -> str:
    """'BTC/USDT:USDT', '1m' -> 'BTC_USDT_USDT-1m.csv' (the download's and --data's naming)."""
    return symbol.replace("/", "_").replace(":", "_") + f"-{timeframe}.csv"


def data_files(settings: Any, args: argparse.Namespace) -> dict[str, Path]:
    symbols = list(settings.symbols.list)
    files: dict[str, Path] = {}
    if args.timeframe and args.data is None:  # found by review: ignored, the 5m files ran
        raise DataError(f"--timeframe {args.timeframe}: only with --data DIR (it picks that "
                        "folder's files; --csv and paper.csv_files files are read as they are)")
    if args.data is None:  # --csv replaces single symbols' files
        files = {s: settings.resolve_config_path(f) for s, f in settings.paper.csv_files.items()}
    if args.data is not None:
        files = _folder_files(Path(args.data).expanduser(), symbols, args.timeframe)
    _add_csv(files, args.csv, symbols)
    for path in files.values():
        part = path.with_name(path.name + ".part")
        if not path.exists() and part.exists():  # found by review: "file not found"
            raise DataError(f"{path}: not there, {part.name} is: an interrupted download; run "
                            "the same bot.py download again to finish it")
    missing = [s for s in symbols if s not in files]
    if missing and args.data is not None:  # found by review: "give ... --data DIR" to a user
        _missing_in_folder(Path(args.data).expanduser(), missing[0])  # who had given it
    if missing:
        raise DataError(f"no candle data for {missing[0]}: give --csv {missing[0]}=FILE, "
                        "--data DIR or paper.csv_files in the config")
    return files


def _folder_files(folder: Path, symbols: list[str], timeframe: str | None) -> dict[str, Path]:
    """--data DIR: each symbol's file in it, the one of `timeframe` when given; several files
    for a symbol without --timeframe are refused (which one ran would be a guess)."""
    files: dict[str, Path] = {}
    for s in symbols:
        if timeframe:
            files[s] = folder / file_name(s, timeframe)
            continue
        found = symbol_files(folder, s)
        if len(found) > 1:
            raise DataError(f"--data {folder}: several files for {s} "
                            f"({', '.join(p.name for p in found)}); pick one with --timeframe")
        if found:
            files[s] = found[0]
    return files


def _add_csv(files: dict[str, Path], csv: list[str], symbols: list[str]) -> None:
    """--csv SYMBOL=FILE, each replacing that symbol's file; a symbol not traded or given
    twice is refused."""
    given: dict[str, str] = {}
    for item in csv:
        symbol, sep, name = item.partition("=")
        if not sep or not name:
            raise DataError(f"--csv {item!r}: expected SYMBOL=FILE")
        if symbol not in symbols:
            raise DataError(f"--csv {symbol}: the config does not trade this symbol "
                            f"(symbols.list: {', '.join(symbols)})")
        if symbol in given:  # found by review: the last one was used, silently
            raise DataError(f"--csv {symbol}: given twice ({given[symbol]} and {name}); "
                            "give one file per symbol")
        given[symbol] = name
        files[symbol] = Path(name).expanduser()


def _missing_in_folder(folder: Path, symbol: str) -> None:
    """The DataError for a symbol --data DIR has no file for: an interrupted download, no such
    file, not a folder, or no such folder."""
    interrupted = symbol_files(folder, symbol, ".part")
    if interrupted:
        raise DataError(f"{interrupted[0]}: an interrupted download ({symbol} has no "
                        "finished file); run the same bot.py download again to finish it")
    where = (f"no {file_name(symbol, '*')} in it" if folder.is_dir()
             else "not a folder" if folder.exists() else "no such folder")
    raise DataError(f"--data {folder}: {where} (no candle data for {symbol}; "
                    "bot.py download writes <SYMBOL>-<timeframe>.csv files)")


def symbol_files(folder: Path, symbol: str, suffix: str = "") -> list[Path]:
    """The symbol's `<SYMBOL>-<tf>.csv` files in `folder` (with `suffix`: such a file's
    `.part`). The pattern `<SYMBOL>-*.csv` also matches another instrument's file: a dated
    future's (`BTC/USDT:USDT-240329` -> `BTC_USDT_USDT-240329-5m.csv`); a timeframe holds no
    "-" (found by review: with only the future's file in the folder, the perpetual was
    backtested on its candles without a word)."""
    stem, end = file_name(symbol, "")[: -len(".csv")], f".csv{suffix}"
    return sorted(p for p in folder.glob(file_name(symbol, "*") + suffix)
                  if (tf := p.name[len(stem):-len(end)]) and "-" not in tf)


TIMEFRAME_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def named_timeframe(symbol: str, path: Path, args: argparse.Namespace) -> int | None:
    """The timeframe (ms) a `--data` file's name gives (`<SYMBOL>-<tf>.csv`, the download's
    naming: `--timeframe`, or the one file found), or None (a `--csv` or `paper.csv_files`
    file, a name without one: the reader takes the file's most common step). Found by review:
    the name was ignored, so a 1m file of an illiquid symbol with most minutes missing (venues
    that leave out candles without trades) was read as 2m candles: refused as "off the file's
    120 s steps", or, with every other minute missing, replayed as 2-minute candles without a
    gap, each close 30 s after the candle had ended. Months and years (not one length) are
    left to the reader."""
    if args.data is None or path.parent != Path(args.data).expanduser():
        return None
    prefix = file_name(symbol, "")[: -len(".csv")]
    name = path.name
    if not (name.startswith(prefix) and name.endswith(".csv")):
        return None
    match = re.fullmatch(r"([1-9][0-9]{0,5})([smhdw])", name[len(prefix):-len(".csv")])
    if match is None:
        return None
    return int(match[1]) * TIMEFRAME_UNITS_S[match[2]] * 1000


Snapshot = dict[tuple[str, Path], Candles]
"""A sweep's candles as it read them at its start, by symbol and file: runs may read a symbol
from different files (`--sweep paper.csv_files=...`)."""


def snapshot_of(candles: dict[str, Candles]) -> Snapshot:
    return {(s, c.path): c for s, c in candles.items()}


def load_all(settings: Any, args: argparse.Namespace,
             loaded: dict[str, Candles] | Snapshot | None = None) -> dict[str, Candles]:
    """Every configured symbol's candles, checked; `loaded`: candles read before with the same
    arguments (a sweep's, at its start; by symbol, or a `Snapshot`): a symbol's that come from
    the same file are used as they are, not read again (their `note:` lines were said when
    they were read). Found by review: a sweep kept one file's candles per symbol, so a run
    giving the symbol another file read it again when it started."""
    start, end = parse_when(args.from_, "--from"), parse_when(args.to, "--to")
    if start is not None and end is not None and start >= end:  # not a fault of any file
        raise DataError(f"--from {fmt_ms(start)} is not before --to {fmt_ms(end)}: "
                        "the range is empty")
    earlier: Snapshot = {(s, c.path) if isinstance(s, str) else s: c
                         for s, c in (loaded or {}).items()}
    candles = {s: earlier.get((s, p)) or
               load(p, from_ms=start, to_ms=end, timeframe_ms=named_timeframe(s, p, args))
               for s, p in data_files(settings, args).items()}
    # found by review: a sweep said each note again for every run
    fresh = {s: c for s, c in candles.items() if earlier.get((s, c.path)) is not c}
    for note in range_notes(fresh, start, end):
        say(f"bot.py: note: {note}")
    gappy = [(s, c) for s, c in candles.items() if c.gaps]
    if gappy and not args.allow_gaps:
        _, c = gappy[0]
        raise DataError(f"{c.path}: {counted(len(c.gaps), 'gap')} ({describe_gaps(c, 3)}); "
                        "run with --allow-gaps to backtest across them")
    holes = coverage_holes(candles)
    if holes and not args.allow_gaps:
        sym, (before, after) = next(iter(holes.items()))
        c = candles[sym]
        raise DataError(f"{c.path}: {describe_coverage(c, before, after)}; run with "
                        "--allow-gaps to backtest across them")
    return candles


def range_notes(candles: dict[str, Candles], start: int | None, end: int | None) -> list[str]:
    """One line per symbol whose data begins a candle or more after `--from`, or ends a candle
    or more before `--to`: the backtest runs over the data there is, and says so (found by
    review: it ran over the shorter range without a word; the report's header was the only
    trace)."""
    notes = []
    for symbol, c in candles.items():
        first, past = c.ts[0], c.ts[-1] + c.timeframe_ms
        if start is not None and first - start >= c.timeframe_ms:
            notes.append(f"{symbol}: {c.path} starts at {fmt_ms(first)}, after --from "
                         f"{fmt_ms(start)}; the backtest begins there")
        if end is not None and end - past >= c.timeframe_ms:
            notes.append(f"{symbol}: {c.path} ends at {fmt_ms(past)}, before --to {fmt_ms(end)}; "
                         "the backtest ends there")
    return notes


def dispatch(args: argparse.Namespace) -> int:
    import ccxt

    from backtest.download import DownloadError
    from backtest.driver import StrategyStopped
    from backtest.sweep import SweepError, Terminated
    from config.errors import ConfigError
    from runtime.shutdown import reader_gone

    problem = _unknown_home_option(args)
    if problem is not None:
        return fail(problem)
    try:
        if args.command == "download":
            from backtest.download import run_download

            return run_download(args)
        return _backtest(args)
    except (DataError, SweepError, ConfigError, DownloadError, StrategyStopped) as exc:
        return fail(str(exc))
    except ccxt.BaseError as exc:
        return fail(f"{args.command}: {type(exc).__name__}: {str(exc)[:300]}")
    except Terminated:  # a sweep's SIGTERM, its runs under way stopped (backtest/sweep.py)
        say("bot.py: terminated")
        return 128 + signal.SIGTERM
    except BrokenPipeError:  # `bot.py backtest ... | head`: the report files are written first
        return reader_gone()
    except OSError as exc:  # a folder or file that cannot be written (permissions, disk full)
        return fail(f"{args.command}: {exc}")


def _unknown_home_option(args: argparse.Namespace) -> str | None:
    """A path option naming `~user` for no such user: one line naming it (pathlib's expanduser
    raised 'Could not determine home directory.' wherever the path was first used)."""
    from config.types import unknown_home_option

    values = [(f"--{name.replace('_', '-')}", getattr(args, name, None))
              for name in ("config", "data", "data_dir", "out", "journal")]
    values += [("--csv", str(item).partition("=")[2]) for item in getattr(args, "csv", None) or ()]
    return unknown_home_option(values)


def _backtest(args: argparse.Namespace) -> int:
    from config.loader import load_settings

    if args.processes is not None and args.processes < 1:  # found by review: 0 ran on all
        return fail(f"--processes {args.processes}: expected at least 1 process")  # cores
    for option, given in (("--rank", args.rank), ("--processes", args.processes)):
        if given is not None and not args.sweep:  # found by review: ignored without a word
            return fail(f"{option}: only with --sweep (a single run has no ranking and runs "
                        "in this process)")
    config = Path(getattr(args, "config", "config.toml"))
    given = {item.partition("=")[0] for item in args.csv}  # these symbols' paper.csv_files, or
    settings = load_settings(  # all of them with --data, are not read: need not exist
        config, data_dir_override=getattr(args, "data_dir", None),
        csv_given=lambda symbol: args.data is not None or symbol in given)
    if settings.has_accounts:
        return fail(f"{config}: backtest runs a single-account config ([[accounts]] not supported)")
    candles = load_all(settings, args)  # checks the data once, before any process starts
    data_dir = settings.data_dir_path(getattr(args, "data_dir", None))
    out = Path(args.out).expanduser() if args.out else data_dir / "backtest"
    out = out.resolve()
    if out.exists() and not out.is_dir():
        return fail(f"--out {out}: exists and is not a folder")
    if args.journal and args.sweep:
        return fail("--journal: not with --sweep (one database per run would be needed)")
    from backtest.files import only_writer, private_dir, remove_leftovers
    from backtest.session import RANKING, RUN_FILES

    sweep_runs = _sweep_runs(args, config, candles) if args.sweep else None  # checked first:
    with only_writer(private_dir(out)):  # a refused --sweep leaves no folder
        remove_leftovers(out, RUN_FILES | set(RANKING))  # a killed run's, ours alone now
        if sweep_runs is not None:
            return _sweep(args, config, out, *sweep_runs)
        return _single(args, settings, out, candles)


def _single(args: argparse.Namespace, settings: Any, out: Path,
            candles: dict[str, Candles]) -> int:
    from backtest.session import clear_earlier_sweep, run_one

    clear_earlier_sweep(out)  # a sweep's runs and ranking next to this report: not its own
    report, paths = run_one(settings, candles, out, charts=not args.no_charts,
                            progress=not args.no_progress and not args.json,
                            journal=Path(args.journal).expanduser() if args.journal else None)
    if args.json:  # report.json, as written (the rendered text is not part of it)
        from backtest.report import to_json

        print(to_json({k: v for k, v in report.items() if k != "text"}))
        for p in paths:  # stdout is the JSON alone; the files are named on stderr (found by
            say(f"wrote {p}")  # review: with --json their paths were printed nowhere)
        return 0
    print(report["text"], end="")
    print("\n".join(f"wrote {p}" for p in paths))
    return 0


def _sweep_runs(args: argparse.Namespace, config: Path, candles: dict[str, Candles]
                ) -> tuple[list[dict[str, Any]], dict[str, Any], Snapshot]:
    """The sweep's combinations, the config's tables and every run's candles, checked."""
    from backtest import sweep

    runs = sweep.combinations([sweep.parse_axis(o) for o in args.sweep])
    raw = sweep.read_config(config)  # once: every run starts from this config
    snapshot = snapshot_of(candles)
    for r in runs:  # a bad value fails here, in one line; so does a run's symbol's bad data
        more = load_all(sweep.settings_with(config, r, raw), args, loaded=snapshot)
        snapshot.update(snapshot_of(more))  # found by review: a symbol only a --sweep value
        # lists (symbols.list=...) was read by each of its runs when it started, not at the start
    return runs, raw, snapshot


def _sweep(args: argparse.Namespace, config: Path, out: Path, runs: list[dict[str, Any]],
           raw: dict[str, Any], candles: Snapshot) -> int:
    from backtest import sweep
    from backtest.session import (
        SweepWorker,
        clear_earlier_sweep,
        remove_outputs,
        render_ranking,
        write_ranking,
    )

    clear_earlier_sweep(out)
    if out.is_dir():
        remove_outputs(out)  # a single run's report and charts next to the ranking: not its own
    worker = SweepWorker(config=config, raw=raw, args=vars(args), out=out,
                         charts=not args.no_charts, candles=candles)
    rank = args.rank or "net_pnl"
    rows = sweep.ranked(sweep.run_all(runs, worker, args.processes), rank)
    failed = [r for r in rows if r.get("error") is not None]
    table = render_ranking(rows, rank)
    paths = write_ranking(out, rows, table)
    if args.json:  # ranking.json, as written; the files on stderr, as for a single run
        from backtest.report import to_json

        print(to_json(rows))
        say(f"wrote {len(rows) - len(failed)} reports under {out}")
        for p in paths:
            say(f"wrote {p}")
    else:
        print(table, end="")
        print(f"wrote {len(rows) - len(failed)} reports under {out}")
        print("\n".join(f"wrote {p}" for p in paths))
    if failed:  # the other runs finished and are ranked; the exit code says not all did
        names = ", ".join(f"run-{r['run']:03d}" for r in failed)
        return fail(f"--sweep: {len(failed)} of {len(rows)} runs failed ({names}); the "
                    "ranking lists each with its error")
    return 0
