from __future__ import annotations

from decimal import Decimal

import pytest

from trading.decide import SymbolCore
from trading.rules import MarketRules, RiskRules, Rules

D = Decimal


def make_rules(**risk_overrides) -> Rules:
    risk = dict(
        order_size_usdt=D("100"), stop_loss_pct=D("1"), trailing_activation_pct=D("0.5"),
        trailing_callback_pct=D("0.3"), trailing_step_pct=D("0.1"), take_profit_pct=None,
        cooldown_after_loss_s=120.0, max_close_attempts=3, close_backoff_initial_s=1.0,
        close_backoff_max_s=8.0,
    )
    risk.update(risk_overrides)
    return Rules(symbol="BTC/USDT:USDT", account="main", id_tag="ab12",
                 market=MarketRules(amount_step=D("0.001"), price_tick=D("0.1"),
                                    min_amount=D("0.001"), min_cost=D("5")),
                 risk=RiskRules(**risk))


@pytest.fixture
def core() -> SymbolCore:
    return SymbolCore(make_rules())
