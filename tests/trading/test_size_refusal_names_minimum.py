"""An entry below the market's minimum says which minimum and by how much. The refusal read
"size 3 USDT is below the market minimum" (the maximum's names the maximum): a user whose
`risk.order_size_usdt` can never trade a symbol (Binance's BTC needs 100 USDT of order value)
could not tell from the journal whether the amount or the order value was short, nor what to
set. Pure decision core (trading/decide.py) through the test scenario."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.decide import SymbolCore
from trading.events import PriceTicked, SignalRaised
from trading.model import Side
from trading.rules import MarketRules


def reason(size: str, price: str, **market: str) -> str:
    rules = make_rules(order_size_usdt=D(size))
    if market:
        m = {"amount_step": D("0.001"), "price_tick": D("0.1"), "min_amount": D("0.001"),
             "min_cost": D("5")} | {k: D(v) for k, v in market.items()}
        rules = type(rules)(symbol=rules.symbol, account=rules.account, id_tag=rules.id_tag,
                            market=MarketRules(**m), risk=rules.risk)
    sc = Scenario(SymbolCore(rules))
    sc.send(PriceTicked(price=D(price)))
    d = sc.send(SignalRaised(side=Side.LONG))
    assert not d.commands and d.journal[0].type == "SignalSkipped"
    return d.journal[0].data["reason"]


def test_an_order_value_below_the_minimum_names_the_minimum_value():
    got = reason("3", "100")  # 0.03 at 100: the amount is fine, 3 USDT < the 5 USDT minimum
    assert got == ("size 3 USDT is below the market minimum order value of 5 USDT "
                   "(0.03 at 100 = 3.00 USDT)")


def test_an_amount_below_the_minimum_names_the_minimum_amount():
    got = reason("50", "60000", min_amount="0.001")  # 50 USDT of BTC: 0.000 after rounding
    assert got == "size 50 USDT is below the market minimum amount of 0.001 (0 at 60000)"
    got = reason("90", "60000", min_amount="0.002", min_cost="0")
    assert got == "size 90 USDT is below the market minimum amount of 0.002 (0.001 at 60000)"


def test_a_grid_open_below_the_minimum_names_it_too():
    from tests.trading.test_grid_core import Book

    b = Book(order_size_usdt=D(3))  # 0.03 at 100: 3 USDT < the 5 USDT minimum
    d = b.send(PriceTicked(price=D(100)))
    reasons = [j.data["reason"] for j in d.journal if j.type == "OpenSkipped"]
    assert reasons == ["size 0.03 is below the market minimum order value of 5 USDT "
                       "(0.03 at 100 = 3.00 USDT)"], reasons


def test_a_size_at_the_minimum_that_rounding_takes_below_it_says_so():
    """Found by a live run against the Binance emulator (minimum order value 100 USDT, the
    default order_size_usdt 100): "size 100 USDT is below the market minimum order value of
    100.0 USDT (0.002 at 49991.90)", a line that contradicts itself: the amount, rounded down
    to the market's step, is worth 99.9838 USDT. It names the value and the rounding now."""
    got = reason("100", "49991.90", min_cost="100.0")
    assert got == ("size 100 USDT is below the market minimum order value of 100.0 USDT "
                   "(0.002 at 49991.90 = 99.98380 USDT once the amount is rounded down to the "
                   "market's step of 0.001)")


def test_a_size_refusal_is_logged_as_a_warning_other_skips_are_not():
    """The decision loop logs a record as a warning when its `WARN` says so (actors/loop.py):
    a size the market refuses will never trade until the config changes; a cooldown passes."""
    rules = make_rules(order_size_usdt=D(3))
    m = MarketRules(amount_step=D("0.001"), price_tick=D("0.1"), min_amount=D("0.001"),
                    min_cost=D("5"))
    rules = type(rules)(symbol=rules.symbol, account=rules.account, id_tag=rules.id_tag,
                        market=m, risk=rules.risk)
    sc = Scenario(SymbolCore(rules))
    sc.send(PriceTicked(price=D(100)))
    (skipped,) = sc.send(SignalRaised(side=Side.LONG)).journal
    assert skipped.type == "SignalSkipped" and skipped.WARN
    sc = Scenario(SymbolCore(make_rules()))
    (skipped,) = sc.send(SignalRaised(side=Side.LONG)).journal  # no price yet
    assert skipped.type == "SignalSkipped" and not skipped.WARN
