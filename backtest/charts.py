"""Charts next to the report: one standalone HTML file (plotly, its script inline, opens with no
network) and a PNG of the equity / drawdown panel (matplotlib's Agg backend: no display)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from backtest.candles import Candles
from backtest.engine import RunResult, holds_stops
from backtest.files import write_private
from backtest.metrics import Equity
from backtest.trades import Trade

MAX_POINTS = 20_000  # per line in the HTML at most; longer series are thinned (`_keep`)


def _keep(*series: np.ndarray) -> np.ndarray:
    """The indices of the points drawn of equally long `series`: every point up to MAX_POINTS;
    more in buckets, each keeping its first point and every series' lowest and highest (found
    by review: an even stride skipped points, so the drawn drawdown could miss the reported
    maximum, and the price line its highest and lowest closes)."""
    n = len(series[0])
    if n <= MAX_POINTS:
        return np.arange(n)
    size = -(-n // (MAX_POINTS // (1 + 2 * len(series))))
    starts = np.arange(0, n, size)
    keep = [starts, np.array([n - 1])]
    for values in series:
        padded = np.full(len(starts) * size, np.nan)
        padded[:n] = values
        rows = padded.reshape(len(starts), size)
        keep += [starts + np.nanargmin(rows, axis=1), starts + np.nanargmax(rows, axis=1)]
    return np.unique(np.concatenate(keep))


def _dates(ms: np.ndarray) -> np.ndarray:
    return ms.astype("datetime64[ms]")


def _levels(result: RunResult, symbol: str, types: dict[str, str],
            leg: str | None = None) -> tuple[list, list]:
    """A step line of a stop level from the journal; None breaks it when the position closes.
    `leg`: the hedge grid's leg whose line it is (each leg has its own stop and its own close;
    found by review: both legs' stops made one line zigzagging between them)."""
    xs: list[Any] = []
    ys: list[Any] = []
    for now, sym, j in result.recorder.journal:
        if sym != symbol or (leg is not None and str(j.data.get("leg")) != leg):
            continue
        if j.type in types and j.data.get(types[j.type]) is not None:
            xs.append(np.datetime64(int(now * 1000), "ms"))
            ys.append(float(j.data[types[j.type]]))
        elif j.type in ("PositionClosed", "LegClosed"):
            _held_until(xs, ys, np.datetime64(int(now * 1000), "ms"))
            xs.append(np.datetime64(int(now * 1000), "ms"))
            ys.append(None)
    _held_until(xs, ys, _last_close(result, symbol))
    return xs, ys


def _held_until(xs: list[Any], ys: list[Any], at: np.datetime64) -> None:
    """The last level drawn again at `at`, where it ends (a close, the end of the data). Found
    by review: a step line breaks at a None, so each level was drawn only up to the next
    change: a stop never moved before its close was a lone point, which a line does not
    show (every such stop, and each trailing stop's last level, was missing from the chart)."""
    if ys and ys[-1] is not None and xs[-1] < at:
        xs.append(at)
        ys.append(ys[-1])


def _last_close(result: RunResult, symbol: str) -> np.datetime64:
    """When the symbol's last close is replayed (its candle's open + 3/4 of the timeframe)."""
    c = result.candles[symbol]
    return np.datetime64(int(c.ts[-1]) + 3 * c.timeframe_ms // 4, "ms")


def _held_levels(result: RunResult, symbol: str, which: int) -> tuple[list, list]:
    """A step line of a level the bot holds itself (`exchange.stop_mode = "bot"`: no stop
    order, so no journal entry): `which` 0 the stop, 1 the trailing trigger, as each commit
    left them (MemoryRepository.stop_levels); None breaks the line (found by review: these
    charts had no stop line and the trailing line only its activation points)."""
    xs: list[Any] = []
    ys: list[Any] = []
    last = None
    for now, sym, *levels in result.recorder.stop_levels:
        level = levels[which]
        if sym != symbol or level == last:
            continue
        last = level
        if level is None:
            _held_until(xs, ys, np.datetime64(int(now * 1000), "ms"))
        xs.append(np.datetime64(int(now * 1000), "ms"))
        ys.append(None if level is None else float(level))
    _held_until(xs, ys, _last_close(result, symbol))
    return xs, ys


def _broken_at_holes(c: Candles, at: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """The close line with no price (NaN, a break) where each hole in the data starts (found
    by review: the line went straight across a hole run with --allow-gaps, drawing prices that
    were never replayed)."""
    if not c.gaps:
        return at, ys
    starts = np.asarray([g.after_ms + c.timeframe_ms for g in c.gaps], dtype=np.int64)
    cuts = np.searchsorted(at, starts)
    return np.insert(at, cuts, starts), np.insert(ys.astype(float), cuts, np.nan)


Marker = tuple[Any, float, str]


def _fills(result: RunResult, symbol: str, trades: list[Trade]) -> tuple[list[Marker],
                                                                         list[Marker]]:
    """(entries, exits) of `symbol`: every fill of the ledger at its own time and price (found
    by review: a marker per closed trade put a hedge-grid leg's average entry, its averaging
    levels included, at the leg's opening time, showed no averaging fill, and no entry of a
    position still open at the end)."""
    sides: dict[str, str] = {}
    for _, sym, j in result.recorder.journal:
        if sym == symbol and j.type in ("PositionOpened", "LegOpened"):
            sides[j.data["position_id"]] = str(j.data.get("side") or j.data.get("leg"))
    closed = {t.position_id: t for t in trades if t.symbol == symbol}
    entries: list[Marker] = []
    exits: list[Marker] = []
    for now, sym, b in result.recorder.ledger:
        side = sides.get(b.position_id)
        if sym != symbol or side is None or b.amount == 0:
            continue  # a fee told late (no amount), a fill of no position opened here
        at = np.datetime64(int(now * 1000), "ms")
        if (b.side == "buy") == (side == "long"):
            entries.append((at, float(b.price), f"{side} entry {b.amount} @ {b.price}"))
        else:
            t = closed.get(b.position_id)
            end = f", {t.reason}, net {t.net}" if t is not None else ""
            exits.append((at, float(b.price), f"{side} exit {b.amount} @ {b.price}{end}"))
    return entries, exits


def html(result: RunResult, eq: Equity, trades: list[Trade]) -> str:
    # a fixed element id: plotly picks a random one, so the same run wrote another file
    return figure(result, eq, trades).to_html(full_html=True, include_plotlyjs=True,
                                              div_id="backtest-chart")


def figure(result: RunResult, eq: Equity, trades: list[Trade]) -> Any:
    """The chart: equity, drawdown, and each symbol's closes with its trades and stop levels."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    symbols = list(result.candles)
    fig = make_subplots(rows=2 + len(symbols), cols=1, shared_xaxes=True, vertical_spacing=0.03,
                        subplot_titles=["equity (USDT)", "drawdown (USDT)", *symbols])
    k = _keep(eq.equity, eq.drawdown)
    x = _dates(eq.ts_ms[k])
    fig.add_trace(go.Scattergl(x=x, y=eq.equity[k], name="equity"), row=1, col=1)
    fig.add_trace(go.Scattergl(x=x, y=eq.drawdown[k], name="drawdown", fill="tozeroy"),
                  row=2, col=1)
    for row, symbol in enumerate(symbols, start=3):
        c = result.candles[symbol]
        closes = np.asarray(c.close if c.price_floats is None else c.price_floats[3], dtype=float)
        k = _keep(closes)
        # each close at the time it is replayed (open + 3/4 of the timeframe, backtest/engine.py),
        # not at the candle's open: an hour's close drawn at its start showed it before the
        # trades inside that hour were made
        closes_at = np.asarray(c.ts, dtype=np.int64)[k] + 3 * c.timeframe_ms // 4
        at, drawn = _broken_at_holes(c, closes_at, closes[k])
        fig.add_trace(go.Scattergl(x=_dates(at), y=drawn, name=f"{symbol} close",
                                   line={"width": 1}, connectgaps=False), row=row, col=1)
        entries, exits = _fills(result, symbol, trades)
        for label, marks, symbol_ in (("entries", entries, "triangle-up"),
                                      ("exits", exits, "x")):
            fig.add_trace(go.Scattergl(
                x=[m[0] for m in marks], y=[m[1] for m in marks], mode="markers",
                name=f"{symbol} {label}", marker={"symbol": symbol_, "size": 7},
                text=[m[2] for m in marks]), row=row, col=1)
        lines: list[tuple[str, dict[str, str], str | None]] = [
            (f"stop {leg}", {"StopPlaced": "stop_price"}, leg) for leg in ("long", "short")
        ] if result.settings.exchange.hedge_mode else [
            ("stop", {"StopPlaced": "stop_price"}, None),
            ("trailing", {"TrailingStopActivated": "trigger_price",
                          "StopMoveRequested": "new_stop"}, None)]
        held = holds_stops(result.settings)
        for i, (name, types, leg) in enumerate(lines):
            xs, ys = (_held_levels(result, symbol, i) if held
                      else _levels(result, symbol, types, leg))
            if xs:
                fig.add_trace(go.Scattergl(x=xs, y=ys, name=f"{symbol} {name}",
                                           line={"shape": "hv", "width": 1, "dash": "dot"}),
                              row=row, col=1)
    fig.update_layout(height=500 + 300 * len(symbols), title="Backtest", hovermode="x unified")
    return fig


def png(eq: Equity) -> bytes:
    import matplotlib

    matplotlib.use("Agg")  # no display needed; must precede pyplot
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    x = _dates(eq.ts_ms)
    top.plot(x, eq.equity, linewidth=1)
    top.set_ylabel("equity (USDT)")
    top.grid(alpha=0.3)
    bottom.fill_between(x, eq.drawdown, 0, color="tab:red", alpha=0.4, linewidth=0)
    bottom.set_ylabel("drawdown (USDT)")
    bottom.grid(alpha=0.3)
    fig.autofmt_xdate()
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


NAMES = ("chart.html", "equity.png")


def write(out_dir: Path, result: RunResult, eq: Equity, trades: list[Trade]) -> list[Path]:
    paths = [out_dir / name for name in NAMES]
    write_private(paths[0], html(result, eq, trades).encode())
    write_private(paths[1], png(eq))
    return paths
