"""The arguments of `bot.py backtest` and `bot.py download`: argparse only, so building the
command line (every command, `bot.py status` too) imports nothing heavy (numpy, ccxt)."""

from __future__ import annotations

from typing import Any

RANKABLE = ("net_pnl", "win_rate", "sharpe_daily", "sortino_daily", "profit_factor",
            "max_drawdown", "max_drawdown_pct", "trades", "final_equity")
"""Summary metrics a sweep can be ranked by (higher is better for each, drawdowns are <= 0)."""


def add_parsers(sub: Any, common: Any) -> None:
    bt = sub.add_parser("backtest", help="replay candles through the same cores, print a report")
    common(bt)
    bt.add_argument("--from", dest="from_", default=None, metavar="DATE",
                    help="first candle, YYYY-MM-DD[THH:MM] UTC")
    bt.add_argument("--to", default=None, metavar="DATE",
                    help="end (exclusive), YYYY-MM-DD[THH:MM] UTC")
    bt.add_argument("--data", default=None,
                    help="folder of <SYMBOL>-<timeframe>.csv files (bot.py download)")
    bt.add_argument("--timeframe", default=None, help="with --data: which files, e.g. 1m, 5m, 1h")
    bt.add_argument("--csv", action="append", default=[], metavar="SYMBOL=FILE",
                    help="a candle file for one symbol (repeatable); default: paper.csv_files")
    bt.add_argument("--allow-gaps", action="store_true", help="run with holes in the data (listed)")
    bt.add_argument("--json", action="store_true", help="print the report as JSON")
    bt.add_argument("--out", default=None, help="report folder (default: <data dir>/backtest)")
    bt.add_argument("--no-charts", action="store_true", help="skip chart.html and equity.png")
    bt.add_argument("--no-progress", action="store_true", help="no progress bar")
    bt.add_argument("--journal", default=None, metavar="FILE",
                    help="also write every decision to a bot database (SQLite) at FILE")
    bt.add_argument("--sweep", action="append", default=[], metavar="KEY=V1,V2",
                    help="run every combination (repeatable), e.g. strategy.entry_z=1.5,2,2.5")
    bt.add_argument("--rank", default=None, choices=RANKABLE,
                    help="sweep ranking metric (default: net_pnl)")
    bt.add_argument("--processes", type=int, default=None,
                    help="sweep processes (default: all cores)")
    dl = sub.add_parser("download", help="fetch candles through ccxt into a data folder")
    dl.add_argument("--exchange", required=True, help="ccxt exchange id, e.g. bybit")
    dl.add_argument("--symbols", required=True, nargs="+", help="e.g. BTC/USDT:USDT")
    dl.add_argument("--timeframe", default="1m")
    dl.add_argument("--from", dest="from_", required=True, metavar="DATE",
                    help="YYYY-MM-DD[THH:MM] UTC")
    dl.add_argument("--to", default=None, help="end (exclusive), default: now")
    dl.add_argument("--data", default="data/candles", help="folder to write into")
    dl.add_argument("--api-url", default="", help="replace the exchange's API host (emulator)")
    dl.add_argument("--limit", type=int, default=1000, help="candles per request")
