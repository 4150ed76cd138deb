#!/usr/bin/env python3
"""Command line and composition root of the trading bot.

    python bot.py [run] [--config PATH] [--data-dir DIR] [--duration SECONDS] [--workers N]
    python bot.py status [--json] [--account NAME]
    python bot.py logs SYMBOL [-f] [-n LINES] [--account NAME]
    python bot.py resume SYMBOL [--account NAME]
    python bot.py cluster [--json]
    python bot.py signal SYMBOL long|short|exit [--size USDT] [--account NAME]
    python bot.py backtest [--from DATE] [--to DATE] [--data DIR | --csv SYMBOL=FILE ...] [--json]
    python bot.py download --exchange ID --symbols ... --timeframe 1m --from DATE [--to DATE]

--account picks one of the config's [[accounts]]; it is needed when the symbol is traded by more
than one of them (resume and signal need it whenever several accounts are configured).

Exit codes: 0 clean stop; 2 startup or usage error (one line on stderr); 3 another bot holds the
data dir's lock.
"""

from __future__ import annotations

import argparse
import functools
import sys
from typing import Any

from observability.log_format import say


class _Noted(argparse.Action):
    """Stores the value as "store" does and notes (option, dest, value) in `given`, one list
    shared by the top parser and every subcommand's (each parses into a namespace of its own),
    so `runtime.cli.given_twice` can refuse an option given twice with different values: the
    last one was used silently (found by review: `--config a.toml status --config b.toml`)."""

    given: list[tuple[str, str, Any]]  # set on the subclass `parser()` makes for each parser

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        self.given.append((option_string or self.dest, self.dest, values))


def _common(p: argparse.ArgumentParser, *, sub: bool = True,
            noted: type[argparse.Action] | str = "store") -> None:
    # On a subcommand the options default to SUPPRESS, so `bot.py --config X status` keeps the X
    # given before the subcommand instead of resetting it to the default.
    p.add_argument(
        "--config",
        action=noted,
        default=argparse.SUPPRESS if sub else "config.toml",
        help="config file (default: config.toml)",
    )
    p.add_argument(
        "--data-dir",
        action=noted,
        default=argparse.SUPPRESS if sub else None,
        help="directory for the database, lock file and logs/ "
        "(default: bot.data_dir from the config)",
    )


def _account(p: argparse.ArgumentParser, text: str, noted: type[argparse.Action]) -> None:
    p.add_argument(
        "--account", action=noted, default=None,
        help=f"{text}; one of the config's [[accounts]] names"
    )


def _workers(p: argparse.ArgumentParser, noted: type[argparse.Action], *, sub: bool = True) -> None:
    p.add_argument(
        "--workers",
        action=noted,
        type=int,
        default=argparse.SUPPRESS if sub else None,  # None: not given (refused off run)
        help="worker processes to spread the accounts over (default 1: one process)",
    )


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="bot.py", description="Actor-model perpetual-futures trading bot."
    )
    given: list[tuple[str, str, Any]] = []  # every noted option, as given (see _Noted)
    noted: type[argparse.Action] = type("Noted", (_Noted,), {"given": given})
    top.set_defaults(given_options=given)
    common = functools.partial(_common, noted=noted)
    common(top, sub=False)
    top.add_argument(
        "--duration", action=noted, type=float, default=None,
        help="stop by itself after SECONDS, gracefully"
    )
    _workers(top, noted, sub=False)
    sub = top.add_subparsers(dest="command")
    _run_and_views(sub, common, noted)
    _controls(sub, common, noted)
    _node_commands(sub, common)
    from backtest.args import add_parsers  # backtest and download (argparse only, no heavy imports)

    add_parsers(sub, common)
    return top


def _run_and_views(sub: Any, common: Any, noted: type[argparse.Action]) -> None:
    """`run` (the default command) and the read-only views of a bot: `status` and `logs`."""
    run = sub.add_parser("run", help="run the bot (the default)")
    common(run)
    run.add_argument(
        "--duration",
        action=noted,
        type=float,
        default=argparse.SUPPRESS,
        help="stop by itself after SECONDS, gracefully",
    )
    _workers(run, noted)
    status = sub.add_parser("status", help="print the supervisor status dump")
    common(status)
    status.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _account(status, "show only this account", noted)
    logs = sub.add_parser("logs", help="print a symbol's log stream")
    common(logs)
    logs.add_argument("symbol", help='e.g. "BTC/USDT:USDT", or "bot" for the whole bot log')
    logs.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    logs.add_argument(
        "-n", "--lines", type=int, default=50, help="how many last lines (default 50)"
    )
    _account(logs, "the account whose log to print (needed when several trade the symbol)",
             noted)


def _controls(sub: Any, common: Any, noted: type[argparse.Action]) -> None:
    """The commands queued for the running bot (runtime/control_cli.py): `resume`, `signal`."""
    resume = sub.add_parser("resume", help="lift a symbol's quarantine after a person has looked")
    common(resume)
    _account(resume, "the account (needed when several are configured)", noted)
    resume.add_argument("symbol")
    sig = sub.add_parser("signal", help="send a manual signal to the running bot")
    common(sig)
    _account(sig, "the account (needed when several are configured)", noted)
    sig.add_argument("symbol")
    sig.add_argument("side", choices=["long", "short", "exit"])
    sig.add_argument(
        "--size", action=noted, default=None,
        help="order size in USDT (default: risk.order_size_usdt)"
    )


def _node_commands(sub: Any, common: Any) -> None:
    """`worker` (internal: one process of run --workers N, started by its parent) and
    `cluster` (the cluster's nodes and leases)."""
    worker = sub.add_parser("worker", help="internal: one worker process of run --workers N")
    common(worker)
    worker.add_argument("--index", type=int, required=True)
    worker.add_argument("--accounts", required=True)
    worker.add_argument("--parent-pid", type=int, required=True)
    worker.add_argument("--budget-split", default="",
                        help="account=N,...: worker processes sharing each account's venue")
    worker.add_argument("--config-copy", default=None,
                        help="the config's text as the parent read it (relative paths: --config)")
    cluster = sub.add_parser("cluster", help="show the cluster: nodes, leases, takeovers")
    common(cluster)
    cluster.add_argument("--json", action="store_true", help="print JSON instead of text")


LONG_RUNNING = (None, "run", "worker")
"""The commands that stop gracefully on SIGINT/SIGTERM (runtime/shutdown.py: finish the current
message, keep positions protected). Every other command keeps Python's own Ctrl-C (found by
review: `logs -f`, `backtest` and sweeps ignored Ctrl-C and SIGTERM, only SIGKILL ended them)."""


def main(argv: list[str] | None = None) -> int:
    from runtime import shutdown

    args = parser().parse_args(argv)
    long_running = getattr(args, "command", None) in LONG_RUNNING
    if long_running:
        shutdown.install()
    from runtime import cli  # deferred so that --help is instant

    try:
        return cli.dispatch(args)
    except KeyboardInterrupt:
        say("bot.py: interrupted")
        return 130
    finally:
        if long_running and argv is None:  # the process exits next (not a test's call)
            shutdown.finished()


if __name__ == "__main__":
    sys.exit(main())
