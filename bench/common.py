"""Shared pieces of the benchmark suite: a whole bot in one process on the real clock, exchange
wrappers, statistics and table printing.

Nothing here asserts on time: benchmarks measure, print a table and write JSON to bench/results/.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import deque
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Iterable

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pykka  # noqa: E402
from loguru import logger  # noqa: E402

from actors.market_feed import MarketFeed  # noqa: E402
from actors.messages import ExternalSignal, Ping  # noqa: E402
from actors.price_slots import PriceSlots  # noqa: E402
from actors.symbol_actor import ActorDeps, SymbolActor  # noqa: E402
from exchange.paper.exchange import PaperExchange  # noqa: E402
from exchange.paper.prices import GeneratorPriceSource  # noqa: E402
from observability.log_streams import setup_logging  # noqa: E402
from runtime.interpreter import freeze_startup_objects, unfreeze  # noqa: E402
from runtime.wiring import market_rules  # noqa: E402
from storage.repository import Repository  # noqa: E402
from supervision.alerts import Alerts  # noqa: E402
from supervision.child import ChildState  # noqa: E402
from supervision.restart_policy import RestartPolicy  # noqa: E402
from supervision.supervisor import Supervisor  # noqa: E402
from trading.decide import SymbolCore  # noqa: E402
from trading.model import OrderPurpose, OrderStatus, Phase, Side  # noqa: E402
from trading.rules import RiskRules, Rules  # noqa: E402

RESULTS = ROOT / "bench" / "results"
D = Decimal


# -- statistics -------------------------------------------------------------------------------
def pct(values: Iterable[float], q: float) -> float:
    """Percentile by linear interpolation (q in 0..100); nan for no values."""
    xs = sorted(values)
    if not xs:
        return math.nan
    if len(xs) == 1:
        return xs[0]
    k = (len(xs) - 1) * q / 100.0
    lo = math.floor(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "median": pct(values, 50), "p99": pct(values, 99),
            "max": max(values) if values else math.nan,
            "mean": statistics.fmean(values) if values else math.nan}


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if unit == "ms":
        return f"{value * 1000:.2f} ms" if value < 1 else f"{value * 1000:.0f} ms"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "%":
        return f"{value * 100:.1f} %"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "MB":
        return f"{value:.1f} MB"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    out = [title, line]
    for n, r in enumerate(cells):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if n == 0:
            out.append(line)
    out.append(line)
    return "\n".join(out)


def write_json(name: str, data: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    data = {"benchmark": name, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "python": sys.version.split()[0],
            "cpus": os.cpu_count(), **data}
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return math.nan


class CpuMeter:
    """Process CPU time vs wall time over a section: ~1.0 with 2 cores busy-ish on one GIL means
    the interpreter is the limit (a GIL-bound process cannot go much above 1.0)."""

    def __enter__(self) -> "CpuMeter":
        self.w0, self.c0 = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.w0
        self.cpu = time.process_time() - self.c0
        self.ratio = self.cpu / self.wall if self.wall > 0 else math.nan


def wait_for(cond: Callable[[], bool], timeout: float, poll: float = 0.005, what: str = "") -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(poll)
    print(f"  (timeout waiting for {what or 'condition'} after {timeout:.0f}s)", file=sys.stderr)
    return False


def symbols(n: int) -> list[str]:
    return [f"B{i:04d}/USDT:USDT" for i in range(n)]


# -- exchange wrappers ----------------------------------------------------------------------
class Forwarding:
    """Forwards every attribute to the wrapped exchange port (injected like any exchange)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.id = inner.id

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class GlobalLockExchange(Forwarding):
    """The seeds' design as a baseline: every exchange call of every symbol goes through ONE lock
    held for the whole call (network latency included). `enabled` is switched on once the bot
    is up so that only the measured wave is serialised."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.lock = threading.Lock()
        self.enabled = False

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if not callable(target) or name.startswith("_"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            if not self.enabled:
                return target(*args, **kwargs)
            with self.lock:
                return target(*args, **kwargs)

        return call


class CloseStamper(Forwarding):
    """Timestamps (perf_counter) create_order calls of reduce-only non-stop orders (closes)."""

    def __init__(self, inner: Any) -> None:
        super().__init__(inner)
        self.closes: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def create_order(self, symbol: str, type: str, side: str, amount: Any, price: Any = None,  # noqa: A002
                     params: dict | None = None) -> Any:
        p = params or {}
        if p.get("reduceOnly") and "stopLossPrice" not in p and "triggerPrice" not in p:
            t = time.perf_counter()
            with self._lock:
                self.closes.setdefault(symbol, []).append(t)
        return self.inner.create_order(symbol, type, side, amount, price, params)


class NoSignals:
    name = "none"

    def on_price(self, price, volume, now, position):  # noqa: ANN001, ANN201
        return None


def risk_rules(**overrides: Any) -> RiskRules:
    risk = dict(order_size_usdt=D("100"), stop_loss_pct=D("1"), trailing_activation_pct=D("0.5"),
                trailing_callback_pct=D("0.3"), trailing_step_pct=D("0.1"), take_profit_pct=None,
                cooldown_after_loss_s=0.0, max_close_attempts=3, close_backoff_initial_s=1.0,
                close_backoff_max_s=8.0)
    risk.update(overrides)
    return RiskRules(**risk)


# -- the whole bot in one process -----------------------------------------------------------
class BenchBot:
    """Paper exchange + repository + supervisor + one SymbolActor per symbol + file logging, on
    the wall clock with production-like supervision settings (config.toml defaults)."""

    def __init__(self, tmp: Path, syms: list[str], *, latency_s: float = 0.0,
                 wrap: Callable[[PaperExchange], Any] | None = None,
                 strategy_for: Callable[[str], Any] | None = None, risk: dict[str, Any] | None = None,
                 backoff_initial_s: float = 0.5, backoff_max_s: float = 30.0, max_restarts: int = 5,
                 heartbeat_interval_s: float = 1.0, heartbeat_timeout_s: float = 5.0,
                 reconcile_interval_s: float = 3600.0, synchronous: str = "full",
                 logging: bool = True) -> None:
        self.tmp = Path(tmp)
        self.symbols = syms
        self.streams = setup_logging(self.tmp / "logs", level="INFO", console=False) if logging else None
        if not logging:
            logger.remove()
        now_ms = int(time.time() * 1000)
        self.paper = PaperExchange(
            store_path=self.tmp / "paper.sqlite", symbols=syms,
            price_source=GeneratorPriceSource(seed=11, step_ms=1000, speed=1.0, epoch_ms=now_ms - 10_000),
            starting_balance=D("100000000"), latency_s=latency_s)
        self.exchange = wrap(self.paper) if wrap else self.paper
        self.repo = Repository(self.tmp / "bot.sqlite", synchronous=synchronous)
        self.views: dict[str, Any] = {}
        self.risk = risk_rules(**(risk or {}))
        self.sup = Supervisor(
            symbols=syms, start_actor=self._start, repo=self.repo,
            policy=RestartPolicy(max_restarts=max_restarts, period_s=60, backoff_initial_s=backoff_initial_s,
                                 backoff_max_s=backoff_max_s, stable_after_s=120),
            alerts=Alerts(logger=logger), logger=logger, heartbeat_interval_s=heartbeat_interval_s,
            heartbeat_timeout_s=heartbeat_timeout_s, mailbox_max=1_000_000,
            reconcile_interval_s=reconcile_interval_s, kill_switch_escalations=10_000,
            kill_switch_window_s=600, views=self.views)
        self._rules = {s: market_rules(self.paper, s) for s in syms}
        self.prices = PriceSlots(syms)
        self.deps = ActorDeps(exchange=self.exchange, repo=self.repo, core_for=self.core_for,
                              strategy_for=strategy_for or (lambda s: NoSignals()), logger=logger,
                              report=self.sup.report, on_escalate=self.sup.escalated,
                              entries_blocked=self.sup.entries_blocked, views=self.views,
                              prices=self.prices,
                              fences=self.sup.fences, busy=self.sup.busy)  # as runtime/account.py:
        # fenced, and an actor waiting in the rate budget is busy, not hung (a start past the
        # heartbeat timeout restarted actors as hung: 1,798 false start failures, Binance 500)
        # The production feed's delivery path (never started: benchmarks call deliver_tick from
        # their own feeder thread instead of polling the paper exchange).
        self.feed = MarketFeed(exchange=self.exchange, symbols=syms, deliver=self.sup.tell, interval_s=3600,
                               own_prefix=f"main-{self.repo.id_tag}-", logger=logger, prices=self.prices)
        if os.environ.get("BENCH_PACE_QUIET") == "off":  # A/B: quiet wakes at once, in bursts
            self.feed.pacer = None

    def core_for(self, symbol: str) -> SymbolCore:
        return SymbolCore(Rules(symbol=symbol, account="main", id_tag=self.repo.id_tag,
                                market=self._rules[symbol], risk=self.risk))

    def _start(self, symbol: str) -> pykka.ActorRef:
        return SymbolActor.start(symbol, self.deps)

    def ready(self, symbol: str) -> bool:
        published = self.views.get(symbol)
        return (self.sup.children[symbol].state is ChildState.RUNNING and published is not None
                and published.reconciled)

    def all_ready(self) -> bool:
        return self._ready_probe.all_done()

    def start(self, timeout: float = 120.0, gc_freeze: bool = True) -> float:
        """Start the supervisor; returns seconds until every actor runs and is reconciled.
        Then, as the bot does once started (runtime/runner.py), the objects alive are frozen
        out of the collector (`gc_freeze=False`: not, for an A/B)."""
        t0 = time.perf_counter()
        self._ready_probe = Probe(self.symbols, self.ready)
        self.sup.start()
        wait_for(self.all_ready, timeout, what="all actors running and reconciled")
        took = time.perf_counter() - t0
        if gc_freeze:
            freeze_startup_objects()
        return took

    def ref(self, symbol: str) -> pykka.ActorRef:
        ref = self.sup.children[symbol].ref
        assert ref is not None
        return ref

    def signal(self, symbol: str, side: Side = Side.LONG) -> bool:
        return self.sup.tell(symbol, ExternalSignal(side=side, signal_id=uuid.uuid4().hex[:8]))

    def drain(self, syms: list[str] | None = None, timeout: float = 60.0) -> None:
        """Wait until each actor processed everything sent so far (ask round trips)."""
        futs = [self.ref(s).ask(Ping(), block=False) for s in (syms or self.symbols)]
        for f in futs:
            f.get(timeout=timeout)

    def view(self, symbol: str) -> Any:
        """The actor's current view, built from the state it published (or None)."""
        published = self.views.get(symbol)
        return published.view() if published is not None else None

    def protected(self, symbol: str) -> bool:
        """Open, its exchange stop acknowledged and the trailing stop armed, read from the state
        the actor published (about 1 us; building the status view cost ~10 us a symbol, and at
        500 symbols a probe polled every few ms took a large share of the one GIL it measures)."""
        published = self.views.get(symbol)
        if published is None:
            return False
        st = published.state
        return (st.phase is Phase.OPEN and st.trailing is not None
                and any(o.purpose is OrderPurpose.STOP and o.status is OrderStatus.OPEN for o in st.orders))

    def flat(self, symbol: str) -> bool:
        v = self.view(symbol)
        return bool(v is not None and v.phase == "flat")

    def open_all(self, timeout: float = 120.0) -> float:
        t0 = time.perf_counter()
        for s in self.symbols:
            self.signal(s)
        probe = Probe(self.symbols, self.protected)
        wait_for(probe.all_done, timeout, what="all positions protected")
        return time.perf_counter() - t0

    def stop(self) -> None:
        self.sup.stop(timeout_s=30)
        pykka.ActorRegistry.stop_all(block=False)
        self.repo.close()
        self.paper.close()
        if self.streams is not None:
            self.streams.close()
        unfreeze()


class Probe:
    """Waits for a condition that, once true for a symbol, stays true while it is measured
    (running and reconciled; protected during a wave). `all_done` drops symbols from the front
    while they are done and stops at the first pending one, so a poll costs about one check and
    the measuring thread takes almost nothing from the GIL of the bot it measures."""

    def __init__(self, symbols: list[str], done: Callable[[str], bool]) -> None:
        self.pending = deque(symbols)
        self.total = len(symbols)
        self.done = done

    def all_done(self) -> bool:
        while self.pending and self.done(self.pending[0]):
            self.pending.popleft()
        return not self.pending

    def count(self) -> int:
        """Symbols done so far (checks every pending one: for sampling at a low rate)."""
        self.pending = deque(s for s in self.pending if not self.done(s))
        return self.total - len(self.pending)


class TempDir:
    def __init__(self, prefix: str) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=f"bench-{prefix}-"))

    def sub(self, name: str) -> Path:
        p = self.path / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def cleanup(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def header(name: str, note: str = "") -> None:
    print(f"\n=== {name} ===  (python {sys.version.split()[0]}, {os.cpu_count()} cpus){'  ' + note if note else ''}",
          flush=True)
