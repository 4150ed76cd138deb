"""A reconciliation finds the one-way position on the exchange at another size than ours.

Bigger: an entry fill of ours never applied (its lookup answered OrderNotFound once: Binance
-2013 right after placement, Bybit's last-500 window), or a buy by hand. Smaller: a reduce-only
partial close by hand, a partial liquidation. The fills the exchange's trade history shows are
booked once (ledger, weighted entry price, fees, P&L), what no fill explains is journaled, and
the exchange stop is re-placed for the whole position at the level it had (new stop first, then
the old one is cancelled), so nothing is left unprotected when it triggers.

Production DecisionLoop, SymbolCore and CommandExecutor, a real SQLite Repository, and the fake
one-way venue of tests/actors/test_cancel_reports_fill.py (given to the loop's constructor)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, OrderActivity, Reconcile, Timer
from exchange import errors
from exchange.records import PositionSide
from storage.repository import Repository
from tests.actors.test_cancel_reports_fill import SYM, Log, Rec, Venue
from tests.actors.test_cancel_reports_fill import Bot as _Bot
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.model import OrderPurpose, Phase, Side

ZERO = D(0)


class PartialVenue(Venue):
    """+ a lookup of an id in `not_found` answers OrderNotFound once (`partial_entry`: the next
    market entry fills only that much, the rest keeps executing). An order in `anonymous` is
    listed without a client id (placed by hand on the venue's page: Bybit's orderLinkId is empty)
    and cancelled by the venue's id. `acked_only`: the next market entry is answered accepted
    with nothing filled (Binance's NEW), and fills when the test says so. Its trade list honours
    `since` for trades that carry a time."""

    def __init__(self) -> None:
        super().__init__()
        self.not_found: set[str] = set()
        self.anonymous: set[str] = set()  # listed without a client id (placed on the venue's page)
        self.acked_only = False

    def fetch_order(self, id: str, symbol: str, params: dict[str, Any] | None = None) -> Any:
        cid = (params or {}).get("clientOrderId")
        if cid in self.not_found:
            self.not_found.discard(cid)
            raise errors.OrderNotFound("Order does not exist (-2013)")
        return super().fetch_order(id, symbol, params)

    def _view(self, o: Rec) -> Any:
        view = super()._view(o)
        return dataclasses.replace(view, client_order_id=None) if o.cid in self.anonymous else view

    def cancel_order(self, id: str, symbol: str, params: dict[str, Any] | None = None) -> Any:
        if not (params or {}).get("clientOrderId"):  # by the venue's id (one without a client id)
            cid = next((o.cid for o in self.orders.values() if o.id == id), None)
            params = {**(params or {}), "clientOrderId": cid}
        return super().cancel_order(id, symbol, params)

    def create_order(self, symbol: str, type: str, side: str, amount: Any, price: Any = None,
                     params: dict[str, Any] | None = None) -> Any:
        p = params or {}
        if self.acked_only and type == "market" and not p.get("reduceOnly"):
            self.acked_only = False
            o = Rec(id=f"v{next(self.ids)}", cid=p["clientOrderId"], side=side, amount=D(amount),
                    price=None, trigger=None, reduce_only=False, pside=PositionSide.NET)
            self.orders[o.cid] = o
            return self._view(o)
        return super().create_order(symbol, type, side, amount, price, params)

    def fetch_my_trades(self, symbol: str | None = None, since: int | None = None,
                        limit: int | None = None, params: dict[str, Any] | None = None) -> Any:
        return [t for t in super().fetch_my_trades(symbol, since, limit, params)
                if since is None or t.timestamp is None or t.timestamp >= since]

    def manual(self, cid: str, side: str, amount: str, price: str) -> None:
        """An order placed by hand (same account) fills at once."""
        self.orders[cid] = Rec(id=f"m{next(self.ids)}", cid=cid, side=side, amount=D(amount),
                               price=None, trigger=None, reduce_only=side == "sell",
                               pside=PositionSide.NET)
        self.fill(cid, price=D(price))

    def open_stops(self) -> list[tuple[D, D]]:
        return [(o.amount - o.filled, D(o.trigger)) for o in self.orders.values()
                if o.status == "open" and o.trigger is not None]

    def net(self) -> D:
        return self.pos[PositionSide.NET].qty


class Bot(_Bot):
    """The one-way bot of test_cancel_reports_fill on a PartialVenue."""

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.venue, self.t, self.log = tmp, PartialVenue(), 1_700_000_000.0, Log()
        self.repo = Repository(tmp / "bot.sqlite", synchronous="normal", clock=self.now)
        rules = dataclasses.replace(make_rules(), id_tag=self.repo.id_tag)
        self.loop = DecisionLoop(SYM, core=as_core(SymbolCore(rules)), exchange=self.venue,
                                 repo=self.repo, log=self.log, on_escalate=lambda s, e: None,
                                 clock=self.now)
        self.other = ""
        self.loop.start()

    def reconcile(self, times: int = 1) -> None:
        for _ in range(times):
            self.send(Reconcile(reason="periodic"))
            self.send(Timer())

    def resized(self) -> int:
        return len(self.journal("PositionResized"))


def long_one(tmp: Path, partial: str | None = None) -> Bot:
    bot = Bot(tmp)
    bot.tick("100")
    bot.venue.partial_entry = D(partial) if partial is not None else None
    bot.send(ExternalSignal(side=Side.LONG, signal_id="s1"))
    return bot


def entry_of(bot: Bot) -> str:
    return next(o for o in bot.venue.orders.values() if not o.reduce_only).cid


def test_unapplied_entry_fill_is_booked_and_the_stop_covers_the_whole_position(
        tmp_path: Path) -> None:
    bot = long_one(tmp_path, partial="0.4")  # the create answer: 0.4 at 100, still executing
    entry = entry_of(bot)
    bot.venue.fill(entry, D("0.6"), D("100.5"))  # the rest; its report never comes
    bot.venue.not_found.add(entry)
    bot.reconcile(4)
    pos = bot.loop.state.position
    assert pos is not None and bot.loop.state.phase is Phase.OPEN
    assert (pos.contracts, pos.entry_price) == (D("1.0"), D("100.3"))
    assert bot.ledger() == bot.venue_fills()  # the 0.6 and its fee, once
    assert pos.fees == sum((t.fee_cost for t in bot.venue.trades), ZERO)
    assert bot.venue.open_stops() == [(D("1.0"), D(99))]  # one stop, the whole size, same level
    assert bot.resized() == 0  # the fill explains it all
    # the stop triggers: it closes the whole position, nothing stays unprotected
    stop = bot.loop.state.live_orders(OrderPurpose.STOP)[0].client_order_id
    bot.venue.fill(stop, price=D(99))
    bot.send(OrderActivity(client_order_ids=(stop,)))
    bot.reconcile()
    assert bot.venue.net() == ZERO and bot.loop.state.phase is Phase.FLAT
    assert json.loads(bot.journal("PositionClosed")[0])["reason"] == "stop_loss"
    assert bot.ledger() == bot.venue_fills()


def test_a_buy_by_hand_is_booked_at_its_price_and_protected(tmp_path: Path) -> None:
    bot = long_one(tmp_path)
    bot.venue.manual("manual-add", "buy", "1", "102")
    bot.reconcile(3)
    pos = bot.loop.state.position
    assert pos is not None and (pos.contracts, pos.entry_price) == (D(2), D(101))
    assert bot.ledger() == bot.venue_fills()
    assert bot.rows("manual-add") == 1
    assert bot.venue.open_stops() == [(D(2), D(99))]
    assert bot.resized() == 0


def test_growth_no_fill_explains_is_journaled_at_the_entry_price_we_have(
        tmp_path: Path) -> None:
    bot = long_one(tmp_path)
    bot.venue.pos[PositionSide.NET].qty = D("1.5")  # no trade in the history shows it
    bot.reconcile(2)
    pos = bot.loop.state.position
    assert pos is not None and (pos.contracts, pos.entry_price) == (D("1.5"), D(100))
    assert bot.resized() == 1
    assert bot.venue.open_stops() == [(D("1.5"), D(99))]
    assert bot.ledger() == bot.venue_fills()  # nothing invented


def test_a_partial_close_by_hand_is_booked_once_and_the_rest_closes_with_its_pnl(
        tmp_path: Path) -> None:
    bot = long_one(tmp_path)
    bot.venue.manual("manual-cut", "sell", "0.4", "101")
    bot.reconcile(3)
    pos = bot.loop.state.position
    assert pos is not None and (pos.contracts, pos.entry_price) == (D("0.6"), D(100))
    assert pos.realized_pnl == D("0.4")
    assert bot.ledger() == bot.venue_fills() and bot.rows("manual-cut") == 1
    assert bot.resized() == 0
    # the reduce-only stop keeps its size: it closes only what is there
    assert bot.venue.open_stops() == [(D(1), D(99))]
    bot.venue.manual("manual-rest", "sell", "0.6", "102")
    bot.reconcile(2)
    assert bot.loop.state.phase is Phase.FLAT
    closed = json.loads(bot.journal("PositionClosed")[0])
    assert (closed["reason"], D(closed["realized_pnl"])) == ("closed_on_exchange", D("1.6"))
    assert bot.ledger() == bot.venue_fills() and bot.rows("manual-cut") == 1


def test_fills_without_a_client_id_are_booked_once_each(tmp_path: Path) -> None:
    """Bybit lists a manual order's fills without an orderLinkId."""
    bot = long_one(tmp_path)
    for n, price in ((1, "101"), (2, "102")):
        bot.venue.manual(f"anon{n}", "sell", "0.2", price)
        bot.venue.trades[-1] = dataclasses.replace(bot.venue.trades[-1], client_order_id=None)
        bot.reconcile(2)
    pos = bot.loop.state.position
    assert pos is not None and pos.contracts == D("0.6")
    assert pos.realized_pnl == D("0.2") + D("0.4")
    assert pos.fees == sum((t.fee_cost for t in bot.venue.trades), ZERO)
    assert bot.resized() == 0


def test_a_position_grown_and_closed_by_hand_while_away_books_every_fill_once(
        tmp_path: Path) -> None:
    """Found by review: a position closed on the exchange had only its exit fills booked, up to
    our size: a buy by hand before the close never reached the ledger (its fee lost), and the
    close (2, where we held 1) was booked for 1 with half its fee, though the venue charged it
    all and closed 2 (its P&L short of the other contract's). The venue's fills, in its order,
    with every fee once."""
    bot = long_one(tmp_path)
    bot.venue.manual("manual-add", "buy", "1", "102")
    bot.venue.manual("manual-all", "sell", "2", "103")
    bot.reconcile(3)
    assert bot.loop.state.phase is Phase.FLAT and bot.venue.net() == ZERO
    assert bot.ledger() == bot.venue_fills()
    closed = json.loads(bot.journal("PositionClosed")[0])
    assert (closed["reason"], D(closed["realized_pnl"])) == ("closed_on_exchange", D(4))
    assert D(closed["fees"]) == sum((t.fee_cost for t in bot.venue.trades), ZERO)


def test_a_close_larger_than_our_size_is_booked_with_the_whole_fee_it_cost(
        tmp_path: Path) -> None:
    """The exchange held more than we did, by a part no fill in its history shows, and a close
    by hand took all of it while we were away. Found by review: the close was booked for our
    size with that share of its fee; it is booked once (its id is then known), so the rest of
    the fee the venue charged never reached the ledger. P&L only for the size we held."""
    bot = long_one(tmp_path)
    bot.venue.pos[PositionSide.NET].qty = D("1.5")  # no trade in the history shows it
    bot.venue.manual("manual-all", "sell", "1.5", "102")
    bot.reconcile(3)
    assert bot.loop.state.phase is Phase.FLAT and bot.venue.net() == ZERO
    venue_fees = sum((t.fee_cost for t in bot.venue.trades), ZERO)
    assert sum((fee for _, fee, _ in bot.ledger().values()), ZERO) == venue_fees
    closed = json.loads(bot.journal("PositionClosed")[0])
    assert (D(closed["realized_pnl"]), D(closed["fees"])) == (D(2), venue_fees)
    assert bot.rows("manual-all") == 1


def test_a_buy_and_a_larger_sell_by_hand_between_two_looks_are_both_booked(
        tmp_path: Path) -> None:
    """A buy by hand and then a sell by hand of more than it, before the next reconciliation:
    the position is smaller than ours. Found by review: only the sells were booked, up to the
    difference, so the buy never reached the ledger (its fee lost) and the sell was booked for
    part of its size (the rest of its P&L lost). Both fills explain the size exactly: both are
    booked, in the venue's order."""
    bot = long_one(tmp_path)
    bot.venue.manual("manual-add", "buy", "1", "102")
    bot.venue.manual("manual-cut", "sell", "1.5", "103")  # 2 -> 0.5; ours 1 -> 0.5
    bot.reconcile(3)
    pos = bot.loop.state.position
    assert pos is not None and (pos.contracts, pos.entry_price) == (D("0.5"), D(101))
    assert bot.ledger() == bot.venue_fills()
    assert pos.realized_pnl == D(3)
    assert pos.fees == sum((t.fee_cost for t in bot.venue.trades), ZERO)
    assert bot.resized() == 0


def test_an_unapplied_fill_listed_before_the_applied_one_books_only_its_own_fee(
        tmp_path: Path) -> None:
    """Two executions of the entry in the same millisecond, the venue listing the later first
    (Bybit lists executions newest first; a stable sort by time keeps that order): the part
    already applied (0.4, from the create answer) is taken off the first listed trade, and the
    rest of that trade is booked with its share of the trade's fee (actors/exchange_snapshot.py
    `_external_fills`). Found by the mutation audit: booking the whole trade's fee with the rest
    survived every test naming the module; with it the applied part's fee was booked twice."""
    bot = long_one(tmp_path, partial="0.4")  # the create answer: 0.4 at 100, still executing
    entry = entry_of(bot)
    bot.venue.fill(entry, D("0.6"), D(100))  # the rest; its report never comes
    bot.venue.trades.reverse()  # the later execution listed first
    bot.venue.not_found.add(entry)  # its lookup misses once: booked from the trades
    bot.reconcile(1)
    pos = bot.loop.state.position
    assert pos is not None and pos.contracts == D("1.0")
    assert bot.ledger() == bot.venue_fills(), (bot.ledger(), bot.venue_fills())
    assert pos.fees == sum((t.fee_cost for t in bot.venue.trades), ZERO)


def test_the_part_already_applied_is_taken_off_the_earliest_fills(tmp_path: Path) -> None:
    """The venue lists the entry's fills newest first (Bybit), each at its own time and price:
    the 0.4 the create answer applied are the earliest fill's, and the rest is booked at the
    later fill's price (actors/exchange_snapshot.py `_in_time_order`). Found by the mutation
    audit: taking the trades newest first survived every test naming the module (their trades
    carry no time); with it the applied part was taken off the latest fill, and the earliest
    (already applied) booked again in its place: entry price 100.2 for 100.6, the P&L of the
    whole position off by 0.4 a point."""
    bot = long_one(tmp_path, partial="0.4")  # the create answer: 0.4 at 100, still executing
    entry = entry_of(bot)
    bot.venue.fill(entry, D("0.6"), D(101))  # the rest; its report never comes
    start = int(bot.t * 1000)
    bot.venue.trades = [dataclasses.replace(t, timestamp=start + n)
                        for n, t in enumerate(bot.venue.trades)][::-1]  # newest first
    bot.venue.not_found.add(entry)  # its lookup misses once: booked from the trades
    bot.reconcile(1)
    pos = bot.loop.state.position
    assert pos is not None and pos.contracts == D("1.0")
    assert pos.entry_price == D("100.6"), pos
    assert bot.ledger() == bot.venue_fills(), (bot.ledger(), bot.venue_fills())


def test_an_order_placed_by_hand_without_a_client_id_is_cancelled_as_an_orphan(
        tmp_path: Path) -> None:
    """A buy limit placed by hand on the venue's page while we hold the long: Bybit lists it
    with an empty orderLinkId. The reconciliation cancels it as an order nobody owns (incident
    9; actors/exchange_snapshot.py `orphans`). Found by the mutation audit: skipping open orders
    without a client id survived every test naming the module (their orders all name one);
    with it the order rests until it fills into the position, unprotected by our stop's size."""
    bot = long_one(tmp_path)
    bot.venue.orders["by-hand"] = Rec(id="h1", cid="by-hand", side="buy", amount=D(1),
                                      price=D(95), trigger=None, reduce_only=False,
                                      pside=PositionSide.NET)
    bot.venue.anonymous.add("by-hand")
    bot.reconcile(1)
    assert bot.venue.orders["by-hand"].status == "canceled"
    assert [json.loads(j)["exchange_id"] for j in bot.journal("OrphanCanceled")] == ["h1"]
    assert bot.venue.open_stops() == [(D(1), D(99))]  # our stop stays


def test_an_entry_fill_before_the_position_opened_in_our_books_is_booked(tmp_path: Path) -> None:
    """A market entry answered accepted with nothing filled (Binance's NEW): its first report
    applies 0.4 a moment later, when the position opens in our books; the rest (0.6) had
    executed before that report arrived (the venue's order view lags its fills), and its lookup
    then misses once. The trades are read from the order's creation, not from the position's
    opening (actors/exchange_snapshot.py `_external_fills`: since_s). Found by the mutation
    audit: reading from the opening only survived every test naming the module (their venues
    list every trade whatever `since` says); with it the 0.6 is never booked, its fee lost and
    the growth journaled at our entry price instead of the fill's."""
    bot = Bot(tmp_path)
    bot.tick("100")
    bot.venue.acked_only = True
    bot.send(ExternalSignal(side=Side.LONG, signal_id="s1"))
    entry = entry_of(bot)
    created_ms = int(bot.t * 1000)
    bot.venue.fill(entry, D("0.4"), D(100))
    bot.venue.fill(entry, D("0.6"), D(101))
    bot.venue.trades = [dataclasses.replace(t, timestamp=created_ms + 10 * (n + 1))
                        for n, t in enumerate(bot.venue.trades)]
    rec = bot.venue.orders[entry]  # the report shows the first fill only
    shown, rec.filled, rec.cost, rec.fee, rec.status = (
        (rec.filled, rec.cost, rec.fee, rec.status),
        D("0.4"), D(40), bot.venue.trades[0].fee_cost, "open")
    bot.send(OrderActivity(client_order_ids=(entry,)))
    pos = bot.loop.state.position
    assert pos is not None and pos.contracts == D("0.4") and pos.opened_at > created_ms / 1000
    rec.filled, rec.cost, rec.fee, rec.status = shown
    bot.venue.not_found.add(entry)  # its lookup misses once: booked from the trades
    bot.reconcile(1)
    pos = bot.loop.state.position
    assert pos is not None and (pos.contracts, pos.entry_price) == (D("1.0"), D("100.6"))
    assert bot.ledger() == bot.venue_fills(), (bot.ledger(), bot.venue_fills())
    assert bot.resized() == 0
