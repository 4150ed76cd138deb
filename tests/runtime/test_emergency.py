"""The one emergency close on a hedge-mode exchange: every leg closed with its own positionIdx,
the stops kept until then, each order journaled before it is sent."""

from __future__ import annotations

from decimal import Decimal as D

from loguru import logger

from exchange.paper.exchange import PaperExchange
from runtime.emergency import OWED, EmergencyCloser
from storage import queries
from storage.repository import Repository
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices
from trading.client_ids import SAFE, check_fits


def test_hedge_legs_are_each_closed_with_their_position_idx(tmp_path):
    clock = FakeClock()
    paper = PaperExchange(
        store_path=tmp_path / "paper.sqlite",
        symbols=[BTC],
        clock=clock,
        price_source=ScriptedPrices({BTC: D(100)}),
        hedge_mode=True,
        starting_balance=D(10000),
        slippage_bps=D(0),
    )
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    try:
        paper.create_order(
            BTC, "market", "buy", D(1), None, {"positionIdx": 1, "clientOrderId": "l1"}
        )
        paper.create_order(
            BTC, "market", "sell", D(2), None, {"positionIdx": 2, "clientOrderId": "s1"}
        )
        paper.create_order(
            BTC, "limit", "buy", D(1), D(90), {"positionIdx": 1, "clientOrderId": "lvl"}
        )
        done = []
        closer = EmergencyCloser(
            exchange=paper, repo=repo, prefix=f"acc-{repo.id_tag}-", logger=logger, clock=clock
        )
        closer.close(BTC, "leg close failed 3 times", lambda: done.append(True))
        closer.wait()
        assert done == [True]
        assert [p for p in paper.fetch_positions([BTC]) if p["contracts"] > 0] == []
        sent = [s for s in paper.submissions() if s["clientOrderId"].endswith("x")]
        assert sorted((s["side"], s["params"]["positionIdx"]) for s in sent) == [
            ("buy", 2),
            ("sell", 1),
        ]
        assert all(s["params"]["reduceOnly"] for s in sent)
        assert paper.fetch_open_orders(BTC) == []  # the resting level was cancelled first
        journaled = repo.read(queries.events, BTC, "EmergencyCloseRequested")
        assert sorted(e["data"]["order"] for e in journaled) == sorted(
            s["clientOrderId"] for s in sent
        )
    finally:
        repo.close()
        paper.close()


PEPE = "1000PEPE/USDT:USDT"  # a real Binance/Bybit perpetual; its code is 8 characters


def test_the_emergency_close_id_fits_wherever_the_symbols_order_ids_fit(tmp_path):
    """`check_fits` admits an account/symbol pair at startup when its longest order id (sequence
    99999999 + the purpose letter) has at most 36 characters. The emergency close's id ended in
    `-z<side><7 digits>x`, one character more (found by review): with a 12-character account
    name and 1000PEPE its ids had 37 characters, which Binance and Bybit refuse, so the last
    resort of an escalated symbol failed and the position stayed open."""
    clock = FakeClock()
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[PEPE], clock=clock,
                          price_source=ScriptedPrices({PEPE: D(100)}),
                          starting_balance=D(100000), slippage_bps=D(0))
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    account = "abcdefghijkl"  # 12 characters, the longest name allowed
    try:
        check_fits(account, repo.id_tag, PEPE)  # the bot starts with this pair
        closer = EmergencyCloser(exchange=paper, repo=repo, prefix=f"{account}-{repo.id_tag}-",
                                 logger=logger, clock=clock)
        for n in range(10):  # its stamp is random: ten ids, each one as long as it can be
            paper.create_order(PEPE, "market", "buy", D(1), None, {"clientOrderId": f"in{n}"})
            closer.close(PEPE, "close attempts exhausted")
            closer.wait()
        sent = [s["clientOrderId"] for s in paper.submissions() if s["side"] == "sell"]
        assert len(sent) == 10
        assert [cid for cid in sent if not SAFE.fullmatch(cid)] == []
        assert [p for p in paper.fetch_positions([PEPE]) if p["contracts"] > 0] == []
    finally:
        repo.close()
        paper.close()


def test_a_position_above_the_market_maximum_is_closed_in_slices_of_the_maximum(tmp_path):
    """A position larger than the market's maximum order amount (several buys by hand): the
    emergency close sent one order for all of it, which the venue refuses (the paper market of
    BTC takes at most 100 per order as the venues do), so the run ended in EmergencyCloseFailed
    and the quarantined symbol kept its position open. It now sends slices of the maximum, each
    journaled before it is sent, and the position is closed."""
    clock = FakeClock()
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC], clock=clock,
                          price_source=ScriptedPrices({BTC: D(60000)}),
                          starting_balance=D(5_000_000), slippage_bps=D(0))
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=clock)
    try:
        assert paper.market(BTC).max_amount == D(100)
        for n, amount in enumerate((D(100), D(100), D(50))):  # 250 BTC: three buys
            paper.create_order(BTC, "market", "buy", amount, None, {"clientOrderId": f"in{n}"})
        closer = EmergencyCloser(exchange=paper, repo=repo, prefix=f"acc-{repo.id_tag}-",
                                 logger=logger, clock=clock)
        closer.close(BTC, "close attempts exhausted")
        closer.wait()
        assert repo.read(queries.events, BTC, "EmergencyCloseFailed") == []
        assert [p for p in paper.fetch_positions([BTC]) if p["contracts"] > 0] == []
        sent = [s for s in paper.submissions() if s["side"] == "sell"]
        assert [D(s["amount"]) for s in sent] == [D(100), D(100), D(50)]
        assert all(s["params"]["reduceOnly"] for s in sent)
        journaled = repo.read(queries.events, BTC, "EmergencyCloseRequested")
        assert [(e["data"]["order"], D(e["data"]["contracts"])) for e in journaled] == [
            (s["clientOrderId"], D(s["amount"])) for s in sent]
        assert repo.get_meta(OWED + BTC) == ""  # run to its end
    finally:
        repo.close()
        paper.close()
