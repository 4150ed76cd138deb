"""The backtest report: a dict (for `--json` and sweeps), rendered as text with rich tables."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from backtest.candles import counted, coverage_holes
from backtest.engine import RunResult, symbols_of
from backtest.metrics import equity_curve, group, summary
from backtest.protections import configured
from backtest.trades import closed_trades, plain


def build(result: RunResult, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report; `overrides`: a sweep run's `--sweep` values (dotted key -> value), kept in
    the report (absent for a plain run)."""
    trades = closed_trades(result.recorder)
    eq = equity_curve(result)
    s = result.settings
    sweep = {} if overrides is None else {"overrides": dict(overrides)}
    ignored = not_simulated(s)
    holes = coverage_holes(result.candles)
    return {
        "config": {"strategy": s.strategy.name, "symbols": symbols_of(s),
                   "hedge_mode": s.exchange.hedge_mode},
        **sweep,
        **({"not_simulated": ignored} if ignored else {}),
        **({"protections": {"configured": configured(s),
                            "trips": [t.as_dict() for t in result.protections.trips]}}
           if result.protections is not None else {}),
        **({"kill_switch": {"at": result.recorder.kill_switch[0],
                            "reason": result.recorder.kill_switch[1]}}
           if result.recorder.kill_switch is not None else {}),
        "data": {sym: {"file": str(c.path), "candles": len(c), "timeframe_ms": c.timeframe_ms,
                       "gaps": [{"line": g.line, "after_ms": g.after_ms, "before_ms": g.before_ms,
                                 "missing": c.missing_candles(g)} for g in c.gaps],
                       **({"missing_before_after": list(holes[sym])} if sym in holes else {})}
                 for sym, c in result.candles.items()},
        "summary": summary(result, trades, eq),
        "per_symbol": group(trades, "symbol", symbols_of(s)),
        "per_exit_reason": group(trades, "exit"),
        "trades": [t.as_dict() for t in trades],
        **({"warnings": {"count": len(result.log.lines),
                         "first": result.log.lines[:WARNINGS_KEPT]}} if result.log.lines else {}),
        "run": {"candles": result.points // 4, "decisions": result.recorder.decisions},
    }


WARNINGS_KEPT = 20
"""The decision loops' warnings the report keeps (all are counted). Found by review: they were
kept in memory and shown nowhere, so a run whose every entry the exchange refused (an order
size beyond the balance: 1,910 `InsufficientFunds`) reported 0 trades and nothing else, as if
the strategy had never signalled."""


def to_json(report: dict[str, Any] | list[dict[str, Any]]) -> str:
    """Decimals as strings (exact, in plain decimal notation: `plain`), the same text on every
    run for the same input."""
    return json.dumps(report, indent=2, default=_plain, sort_keys=False)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return plain(value)
    raise TypeError(f"not JSON: {value!r}")


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _num(value: Any, digits: int = 2, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{float(value):,.{digits}f}{suffix}"


def _hours(seconds: float | None) -> str:
    """A duration: in minutes under an hour (found by review: in hours with one decimal, an
    average hold of 2 minutes read "0.0 h")."""
    if seconds is None:
        return "-"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def _group_table(title: str, first: str, rows: dict[str, dict[str, Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for col in (first, "trades", "win rate", "net P&L", "fees"):
        t.add_column(col, justify="left" if col == first else "right")
    for name, r in rows.items():
        rate = None if r["win_rate"] is None else r["win_rate"] * 100
        t.add_row(name, str(r["trades"]), _num(rate, 1, " %"),
                  _num(r["net_pnl"], 4), _num(r["fees"], 4))
    return t


def not_simulated(settings: Any) -> list[str]:
    """Configured settings the backtest does not act on, said in the report. External signals
    (`[signals]`) reach the running bot from outside; a backtest has none to replay. (The
    protections are simulated: backtest/protections.py.)"""
    lines = []
    if settings.signals.enabled:  # found by review: the running bot trades external signals
        lines.append("signals.enabled: external signals are not replayed; only the strategy's "
                     "own signals trade in a backtest")  # too; the report said nothing
    return lines


def render(report: dict[str, Any], width: int = 100, seconds: float | None = None) -> str:
    """The report as text; `seconds`: the run's wall-clock duration, for the terminal only (the
    report files hold no timing, so the same input writes the same bytes: found by review)."""
    s = report["summary"]
    out = io.StringIO()
    console = Console(file=out, width=width, force_terminal=False, color_system=None)
    out.write(f"Backtest {_when(s['start'])} .. {_when(s['end'])} UTC, "
              f"{report['config']['strategy']}, {', '.join(report['config']['symbols'])}\n")
    if "overrides" in report:
        out.write("Sweep run with " + ", ".join(f"{k} = {v}" for k, v in
                                                report["overrides"].items()) + "\n")
    console.print(_summary(s))
    console.print(_group_table("Per symbol", "symbol", report["per_symbol"]))
    console.print(_group_table("Per exit reason", "exit", report["per_exit_reason"]))
    _notes(report, out)
    run = report["run"]
    took = "" if seconds is None else f" in {seconds:.2f} s"
    out.write(f"{run['candles']:,} candles, {run['decisions']:,} decisions{took}\n")
    return out.getvalue()


def _summary(s: dict[str, Any]) -> Table:
    """The headline figures, one metric a row (the open positions' P&L said apart: it is not
    in the net P&L)."""
    head = Table(show_header=False)
    head.add_column("metric")
    head.add_column("value", justify="right")
    rows = [
        ("trades", str(s["trades"])),
        ("win rate", _num(None if s["win_rate"] is None else s["win_rate"] * 100, 1, " %")),
        ("net P&L (after fees)", _num(s["net_pnl"], 4) + " USDT"),
        ("fees", _num(s["fees"], 4) + " USDT"),
        ("final equity", _num(s["final_equity"], 2) + " USDT"),
        ("max drawdown", f"{_num(s['max_drawdown'], 2)} USDT ({_num(s['max_drawdown_pct'], 2)} %)"),
        ("Sharpe (daily)", _num(s["sharpe_daily"])),
        ("Sortino (daily)", _num(s["sortino_daily"])),
        ("profit factor", _num(s["profit_factor"])),
        ("exposure", _num(s["exposure_pct"], 1, " %")),
        ("average hold", _hours(s["avg_hold_s"])),
        ("longest losing streak", str(s["longest_losing_streak"])),
        ("escalations", str(s["escalations"])),
        ("positions open at the end", str(s["open_at_end"]) + (
            f" ({_num(s['open_pnl'], 2)} USDT, not in net P&L)" if s["open_at_end"] else "")),
    ]
    for k, v in rows:
        head.add_row(k, v)
    return head


def _notes(report: dict[str, Any], out: io.StringIO) -> None:
    """What qualifies the figures, as plain lines (never wrapped): gaps and missing candles in
    the data, a kill switch trip, what was not simulated, the decision loops' warnings."""
    for sym, d in report["data"].items():  # plain lines: never wrapped
        if d["gaps"]:
            out.write(f"{sym}: ran with {counted(len(d['gaps']), 'gap')} in {d['file']} "
                      f"(first at line {d['gaps'][0]['line']})\n")
    for sym, d in report["data"].items():
        if "missing_before_after" in d:
            before, after = d["missing_before_after"]
            out.write(f"{sym}: ran with {before} candles missing before its data and {after} "
                      f"after it ({d['file']})\n")
    if "kill_switch" in report:
        k = report["kill_switch"]
        out.write(f"kill switch: tripped at {_when(k['at'])} UTC ({k['reason']}): no new "
                  "entries on any symbol after it\n")
    if "protections" in report:
        out.write(_protections(report["protections"]))
    for line in report.get("not_simulated", []):
        out.write(f"not simulated: {line}\n")
    if "warnings" in report:
        w = report["warnings"]
        out.write(f"warnings: {w['count']:,} from the decision loops (the first "
                  f"{len(w['first'])} in report.json); the first: {w['first'][0]}\n")


TRIPS_SHOWN = 5
"""Trips listed in the terminal report (all are in `--json`)."""


def _protections(p: dict[str, Any]) -> str:
    trips = p["trips"]
    head = (f"protections ({', '.join(p['configured'])}): "
            + (f"{len(trips):,} trips" if trips else "never tripped") + "\n")
    lines = [f"  {_when(t['at'])} UTC {t['protection']}"
             + (f" {t['symbol']}" if t["symbol"] else "") + f": {t['reason']}\n"
             for t in trips[:TRIPS_SHOWN]]
    more = [f"  ... {len(trips) - TRIPS_SHOWN:,} more in report.json\n"] if (
        len(trips) > TRIPS_SHOWN) else []
    return head + "".join(lines + more)
