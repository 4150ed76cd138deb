"""The REST an account's periodic work asks of its venue while the streams are down, judged at
start against the venue's limit (exchange/budget_venues.py).

Why: while the venue's streams are down (or off) the bot learns everything over REST: the
all-symbol sweep (actors/exchange_sweep.py: every reconcile interval then), the reconciliation
of each symbol holding something (supervision/reconcile_schedule.py), the stop watch (one
lookup per exchange stop per `stop_check_interval_s`), the balance read and the REST price
feed. The budget keeps the bot under the limit by making the lower priorities wait: a CI run
with `reconcile_interval_s = 1` on Binance with 500 symbols had its sweep alone ask more than
2,400 weight a minute, so every polling call (REST prices, the balance read) was refused for as
long as the streams stayed down, and the bot had started happily.

So an account whose protective and reconciliation work alone (sweep, reconciliation of
`risk.max_open_positions` positions, stop watch of as many stops) asks more than the venue's
limit never starts: one line naming the key, the demand, the limit and the smallest value that
fits. One that fits the limit but leaves the REST price feed and the balance read less than
they need of the bot's share of it starts with one warning line. Each request is priced as the
budget prices it (exchange/ccxt/request_costs.py); the requests are the ones the gateway makes
for each port call (exchange/ccxt/lookup.py, gateway.py). Paper and dry-run send no private
REST: not judged; nor is a venue without a documented profile.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from actors.balance_watch import MIN_INTERVAL_S, settle_coin, settle_of
from config.settings import Settings
from exchange.budget_venues import FEED_POLL_COST, feed_shortfall, feed_volume_rate, limits_for
from runtime.exchanges import reads_volumes, rest_poll_interval, streams_carry_prices
from runtime.startup_error import StartupConfigError


@dataclass(frozen=True, slots=True)
class Reads:
    """The requests of one venue's periodic reads (exchange/ccxt/request_costs.py `Request`
    fields: api, method, path, one symbol)."""

    positions_all: tuple[str, str, str, bool]
    positions_one: tuple[str, str, str, bool] | None
    """None: concurrent position reads share one all-symbol read (Binance, whose all-symbol
    positionRisk weighs what one symbol's does: exchange/ccxt/fresh_read.py), so a round of
    reconciliations reads positions twice (before and after its other reads) in all."""
    orders_all: tuple[tuple[str, str, str, bool], ...]
    orders_one: tuple[tuple[str, str, str, bool], ...]
    stop_look: tuple[str, str, str, bool]
    ticker_one: tuple[str, str, str, bool]
    balance: tuple[str, str, str, bool]
    pages: tuple[int, int] | None = None
    """Rows per page of the all-symbol position and open-order reads, one read per settle coin
    (Bybit, exchange/ccxt/lookup.py); None: one answer for the account."""


def _binance() -> Reads:
    algo, plain = ("fapiPrivate", "GET", "openAlgoOrders"), ("fapiPrivate", "GET", "openOrders")
    return Reads(positions_all=("fapiPrivateV3", "GET", "positionRisk", False),
                 positions_one=None, orders_all=((*plain, False), (*algo, False)),
                 orders_one=((*plain, True), (*algo, True)),
                 stop_look=("fapiPrivate", "GET", "algoOrder", True),  # stops: algo book first
                 ticker_one=("fapiPublic", "GET", "ticker/24hr", True),
                 balance=("fapiPrivateV3", "GET", "account", False))


def _bybit() -> Reads:
    from exchange.ccxt.lookup import BYBIT_OPEN_PAGE, BYBIT_POSITION_PAGE

    positions, orders = ("private", "GET", "v5/position/list"), ("private", "GET",
                                                                 "v5/order/realtime")
    return Reads(positions_all=(*positions, False), positions_one=(*positions, True),
                 orders_all=((*orders, False),), orders_one=((*orders, True),),
                 stop_look=(*orders, True), ticker_one=("public", "GET", "v5/market/tickers", True),
                 balance=("private", "GET", "v5/account/wallet-balance", False),
                 pages=(BYBIT_POSITION_PAGE, BYBIT_OPEN_PAGE))


READS: dict[str, Callable[[], Reads]] = {"binanceusdm": _binance, "bybit": _bybit}
"""By the venue of `limits_for` (exchange.id "binance" is Binance USDⓈ-M's too)."""


@dataclass(frozen=True, slots=True)
class Schedule:
    reconcile_s: float
    stop_check_s: float
    positions: int


@dataclass(frozen=True, slots=True)
class Demand:
    """Per minute, in the venue's units, while the streams are down."""

    venue: str
    unit: str
    limit: float
    budget: float
    """What the bot may spend of the limit (exchange.rate_budget_share)."""
    sweep: float
    reconcile: float
    stops: float
    feed: float
    balance: float
    positions: int
    stop_count: int

    @property
    def protective(self) -> float:
        """The work that outranks polling in the budget (exchange/budget.py floors)."""
        return self.sweep + self.reconcile + self.stops

    @property
    def polling(self) -> float:
        return self.feed + self.balance

    @property
    def total(self) -> float:
        return self.protective + self.polling


def schedule_of(s: Settings) -> Schedule:
    grid = s.strategy.name == "hedge_grid"  # its symbols hold up to 2 positions each
    held = min(s.risk.max_open_positions, len(s.symbol_list) * (2 if grid else 1))
    return Schedule(s.supervision.reconcile_interval_s, s.supervision.stop_check_interval_s, held)


def streams_down_demand(s: Settings, sharers: int = 1,
                        schedule: Schedule | None = None) -> Demand | None:
    """The account's REST demand while the streams are down (None: not judged). `sharers`:
    the live accounts paying the same budget (the REST feed's pace, `rest_poll_interval`)."""
    from exchange.ccxt.request_costs import Request, units

    if s.bot.mode != "live":
        return None
    ex = s.exchange
    limits = limits_for(ex.id, 50)
    reads = READS.get(limits.venue)
    if reads is None or ex.id not in FEED_POLL_COST:
        return None
    r = reads()

    def u(*requests: tuple[str, str, str, bool]) -> float:
        return sum(units(ex.id, Request(*q)) for q in requests)

    plan = schedule or schedule_of(s)
    n = plan.positions
    symbols = len(s.symbol_list)
    held = min(n, symbols)  # the symbols holding them, reconciled every interval
    stops = n if ex.stop_mode == "exchange" else 0
    if r.pages is None:
        sweep = u(r.positions_all, *r.orders_all)
    else:
        coins = len({settle_of(sym) for sym in s.symbol_list})
        sweep = coins * ((n // r.pages[0] + 1) * u(r.positions_all)
                         + (stops // r.pages[1] + 1) * u(*r.orders_all))
    positions = (2 * u(r.positions_all) if held else 0.0) if r.positions_one is None else \
        2 * held * u(r.positions_one)
    round_ = positions + held * (u(*r.orders_one) + u(r.ticker_one)) + stops * u(r.stop_look)
    per_r = 60 / plan.reconcile_s
    watched = stops * u(r.stop_look) * 60 / plan.stop_check_s if plan.stop_check_s > 0 else 0.0
    balance = (u(r.balance) * 60 / max(plan.reconcile_s, MIN_INTERVAL_S)
               if settle_coin(list(s.symbol_list)) is not None else 0.0)
    feed = (FEED_POLL_COST[ex.id][0] / rest_poll_interval(s, sharers)
            + feed_volume_rate(ex.id, reads_volumes(s))) * 60  # (Binance: volumes 40 a minute)
    limit = limits.ip_limit * 60 / limits.ip_window_s
    return Demand(venue=ex.id, unit=limits.unit, limit=limit, budget=limit * ex.rate_budget_share,
                  sweep=sweep * per_r, reconcile=round_ * per_r, stops=watched, feed=feed,
                  balance=balance, positions=held, stop_count=stops)


Fits = Callable[[Demand], bool]
RECONCILE_KEY = "supervision.reconcile_interval_s"
STOP_CHECK_KEY = "supervision.stop_check_interval_s"
POSITIONS_KEY = "risk.max_open_positions"
SHARE_KEY = "exchange.rate_budget_share"


def check_rest_demand(s: Settings, *, sharers: int = 1, warn: Callable[[str], object],
                      config_key: str = "") -> None:
    """Refuse (StartupConfigError, one line led by the key to change, so the command line
    names its file and line) a schedule whose protective and reconciliation work alone asks
    more than the venue's limit while the streams are down; `warn` one line when it fits but
    leaves the REST price feed and the balance read less than they need of the bot's share.
    `config_key`: the account's prefix in the file (``accounts[1].``). A REST-only feed too
    fast for the budget is left to its own line (`check_feed_budget`, when the exchange is
    built)."""
    ex = s.exchange
    if not streams_carry_prices(s) and feed_shortfall(ex.id, ex.poll_interval_s,
                                                      ex.rate_budget_share, reads_volumes(s)):
        return
    d = streams_down_demand(s, sharers)
    if d is None:
        return
    if d.protective > d.limit:
        raise StartupConfigError(config_key + _refusal(s, sharers, d))
    if d.total > d.budget:
        warn(config_key + _tight(s, sharers, d))


def _parts(d: Demand) -> str:
    return (f"the all-symbol sweep ~{d.sweep:,.0f}, reconciling {d.positions} positions "
            f"~{d.reconcile:,.0f}, the stop watch of {d.stop_count} stops ~{d.stops:,.0f}")


def _refusal(s: Settings, sharers: int, d: Demand) -> str:
    lead, others = _fitting(s, sharers, lambda x: x.protective <= x.limit, d)
    return (f"{lead[0]} = {lead[1]} asks {d.venue} for ~{d.protective:,.0f} {d.unit} a minute "
            f"while the streams are down (limit {d.limit:,.0f}): {_parts(d)}; {lead[2]}{others}")


def _tight(s: Settings, sharers: int, d: Demand) -> str:
    left = max(d.budget - d.protective, 0.0)
    lead, others = _fitting(s, sharers, lambda x: x.total <= x.budget, d)
    share = math.ceil(d.total / d.limit * 20) / 20  # in steps of 0.05
    more = f", {SHARE_KEY} >= {share:g}" if share <= 1 else ""
    when = "part of the time" if left > 0 else "every time"
    return (f"{lead[0]} = {lead[1]}: with the streams down the sweep, reconciliation and stop "
            f"watch ask {d.venue} for ~{d.protective:,.0f} {d.unit} a minute ({_parts(d)}) and "
            f"leave the REST price feed and the balance read ~{left:,.0f} of the "
            f"~{d.polling:,.0f} they need (the bot may spend ~{d.budget:,.0f} a minute: "
            f"{SHARE_KEY} = {s.exchange.rate_budget_share:g} of {d.limit:,.0f}): REST prices "
            f"are refused {when} while the streams are down; {lead[2]}{others}{more}")


def _fitting(s: Settings, sharers: int, fits: Fits,
             d: Demand) -> tuple[tuple[str, str, str], str]:
    """The key to lead with (the part that asks most, among the keys whose change alone fits:
    key, its value, "at least N fits"), and the other keys that fit alone ("(or ...)")."""
    plan = schedule_of(s)
    found = {RECONCILE_KEY: _least_reconcile(s, sharers, fits, plan),
             STOP_CHECK_KEY: _least_stop_check(s, sharers, fits, plan),
             POSITIONS_KEY: _most_positions(s, sharers, fits, plan)}
    said = {RECONCILE_KEY: f"{plan.reconcile_s:g}", STOP_CHECK_KEY: f"{plan.stop_check_s:g}",
            POSITIONS_KEY: f"{s.risk.max_open_positions}"}
    big = (RECONCILE_KEY, STOP_CHECK_KEY) if d.sweep + d.reconcile >= d.stops else (
        STOP_CHECK_KEY, RECONCILE_KEY)
    order = [k for k in (*big, POSITIONS_KEY) if found[k] is not None]
    if not order:
        return ((big[0], said[big[0]], f"no value of {RECONCILE_KEY}, {STOP_CHECK_KEY} or "
                 f"{POSITIONS_KEY} alone fits; change several"), "")
    first, rest = order[0], order[1:]
    others = f" (or {', '.join(str(found[k]) for k in rest)})" if rest else ""
    return (first, said[first], f"{found[first]} fits"), others


def _judge(s: Settings, sharers: int, fits: Fits, plan: Schedule) -> bool:
    d = streams_down_demand(s, sharers, plan)
    return d is not None and fits(d)


def _least(ok: Callable[[int], bool], low: int, high: int) -> int | None:
    """The smallest k in [low, high] with ok(k), ok growing with k; None: none."""
    if not ok(high):
        return None
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if ok(mid) else (mid + 1, high)
    return low


def _least_reconcile(s: Settings, sharers: int, fits: Fits, plan: Schedule) -> str | None:
    least = _least(lambda k: _judge(s, sharers, fits, replace(plan, reconcile_s=k)),
                   max(math.ceil(plan.reconcile_s), 1), 86400)
    return None if least is None else f"{RECONCILE_KEY} >= {least}"


def _least_stop_check(s: Settings, sharers: int, fits: Fits, plan: Schedule) -> str | None:
    if plan.stop_check_s <= 0:
        return None  # off (0): nothing to slow
    least = _least(lambda k: _judge(s, sharers, fits, replace(plan, stop_check_s=k / 10)),
                   max(math.ceil(plan.stop_check_s * 10), 1), 600)
    return None if least is None else f"{STOP_CHECK_KEY} >= {least / 10:g}"


def _most_positions(s: Settings, sharers: int, fits: Fits, plan: Schedule) -> str | None:
    fewer = _least(lambda k: _judge(s, sharers, fits, replace(plan, positions=plan.positions - k)),
                   0, max(plan.positions - 1, 0))
    return None if fewer is None else f"{POSITIONS_KEY} <= {plan.positions - fewer}"


def check_shared_demand(accounts: Sequence[Settings], keys: Mapping[str, str],
                        warn: Callable[[str], object] | None) -> None:
    """The live accounts of one process on one venue and API host pay one budget and one IP
    limit, so their schedules are judged together too: each fitting alone is not enough (two
    Binance accounts each asking ~1,700 weight a minute asked ~3,400 together). Refused with
    one line led by the first account's key, naming the common value that fits; `warn`
    (None: refusals only, the workers warn for themselves) one line when together they leave
    the REST feeds short and no account alone does (it warns at its own start)."""
    from runtime.workers_role import account_venue

    groups: dict[tuple[str, str], list[Settings]] = {}
    for a in accounts:
        if a.bot.mode == "live":
            groups.setdefault(account_venue(a), []).append(a)
    for group in groups.values():
        found = [streams_down_demand(a, len(group)) for a in group]
        demands = [d for d in found if d is not None]
        if len(group) < 2 or len(demands) < len(group):
            continue
        if any(d.protective > d.limit for d in demands):
            continue  # refused at that account's own start, by its own line
        if _over_limit(demands):
            raise StartupConfigError(
                keys.get(group[0].bot.account, "") + _shared(group, demands, _over_limit))
        if warn is not None and _over_budget(demands) \
                and not any(d.total > d.budget for d in demands):
            warn(keys.get(group[0].bot.account, "") + _shared(group, demands, _over_budget))


Judge = Callable[[list[Demand]], bool]


def _over_limit(ds: list[Demand]) -> bool:
    return sum(d.protective for d in ds) > ds[0].limit


def _over_budget(ds: list[Demand]) -> bool:
    return sum(d.total for d in ds) > ds[0].budget


def _shared(group: list[Settings], demands: list[Demand], over: Judge) -> str:
    d0, names = demands[0], ", ".join(a.bot.account for a in group)
    each = ", ".join(f"{a.bot.account} ~{d.protective:,.0f}" for a, d in zip(group, demands,
                                                                            strict=True))
    stops = sum(d.stops for d in demands) > sum(d.sweep + d.reconcile for d in demands)
    key, field, tenths = (STOP_CHECK_KEY, "stop_check_s", True) if stops else (
        RECONCILE_KEY, "reconcile_s", False)
    now = getattr(schedule_of(group[0]), field)
    least = _least(lambda k: not over(_slowed(group, field, k / 10 if tenths else k)),
                   max(math.ceil(now * 10 if tenths else now), 1), 600 if tenths else 86400)
    fits = ("no common value of it fits; change several keys" if least is None else
            f"{key} >= {least / 10 if tenths else least:g} for each fits")
    if over is _over_limit:
        what = (f"together ~{sum(d.protective for d in demands):,.0f} {d0.unit} a minute while "
                f"the streams are down (limit {d0.limit:,.0f}): {each}")
    else:
        what = (f"together ~{sum(d.protective for d in demands):,.0f} {d0.unit} a minute while "
                f"the streams are down ({each}) and leave their REST price feeds and balance "
                f"reads ~{max(d0.budget - sum(d.protective for d in demands), 0):,.0f} of the "
                f"~{sum(d.polling for d in demands):,.0f} they need (the bot may spend "
                f"~{d0.budget:,.0f} a minute: {SHARE_KEY} of {d0.limit:,.0f})")
    return (f"{key} = {now:g}: accounts {names} pay one {d0.venue} rate budget: their sweeps, "
            f"reconciliations and stop watches ask {what}; {fits}")


def _slowed(group: list[Settings], field: str, value: float) -> list[Demand]:
    """Every account's demand with `field` of its schedule at least `value`."""
    out = []
    for a in group:
        plan = schedule_of(a)
        d = streams_down_demand(a, len(group), replace(plan, **{
            field: max(getattr(plan, field), value)}))
        assert d is not None  # judged above: a venue with a profile
        out.append(d)
    return out
