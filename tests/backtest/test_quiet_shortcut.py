"""The backtest's one speed shortcut changes no decision: with the decision loop's
`defer_quiet_prices` (a price inside the quiet band is written into the state only when the
next decision needs it) every committed decision is the one the loop makes without it: the
state before and after (last price included), the commands, the journal, the ledger, at the
same market time. And the account's entry gate holds across the backtest's symbols."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest import candles as C
from backtest import engine
from backtest.trades import closed_trades
from config.loader import load_settings
from tests.backtest.capture import Capture

DATA = Path(__file__).resolve().parents[2] / "examples" / "data"
FILES = {"ETHBTC/USDT:USDT": "ETHBTC_USDT_USDT-5m.csv",
         "LTCBTC/USDT:USDT": "LTCBTC_USDT_USDT-5m.csv"}
CANDLES = 2500

CONFIG = """
[symbols]
list = ["ETHBTC/USDT:USDT", "LTCBTC/USDT:USDT"]
[strategy]
window = 40
entry_z = 2.0
exit_z = 0.3
[risk]
order_size_usdt = 100
stop_loss_pct = 1.0
trailing_activation_pct = 0.4
trailing_callback_pct = 0.3
take_profit_pct = 1.5
cooldown_after_loss_s = 1800
max_open_positions = {cap}
"""




def _run(tmp: Path, cap: int, *, shortcut: bool) -> tuple[engine.RunResult, Capture]:
    (tmp / "bot.toml").write_text(CONFIG.format(cap=cap))
    candles = {}
    for symbol, name in FILES.items():
        lines = (DATA / name).read_text().splitlines()[: CANDLES + 1]
        (tmp / name).write_text("\n".join(lines) + "\n")
        candles[symbol] = C.load(tmp / name)
    capture = Capture()
    result = engine.run(load_settings(tmp / "bot.toml"), candles, forward=capture,
                        defer_quiet_prices=shortcut)
    return result, capture


@pytest.mark.parametrize("cap", [20, 1])
def test_the_quiet_price_shortcut_changes_no_decision(tmp_path: Path, cap: int) -> None:
    fast, fast_commits = _run(tmp_path, cap, shortcut=True)
    slow, slow_commits = _run(tmp_path, cap, shortcut=False)
    assert len(closed_trades(fast.recorder)) > 50
    assert fast.recorder.decisions == len(fast_commits.commits) < fast.points // 4
    assert fast_commits.commits == slow_commits.commits
    assert fast.recorder.journal == slow.recorder.journal
    assert fast.recorder.ledger == slow.recorder.ledger
    assert [f.trade for f in fast.exchange.fills] == [f.trade for f in slow.exchange.fills]


def test_max_open_positions_holds_across_the_backtests_symbols(tmp_path: Path) -> None:
    result, _ = _run(tmp_path, 1, shortcut=True)
    held: dict[str, bool] = {}
    most = 0
    for fill in result.exchange.fills:  # the simulated exchange's positions after every fill
        held[fill.trade.symbol] = fill.qty_after != 0
        most = max(most, sum(held.values()))
    refused = [j.data["reason"] for _, _, j in result.recorder.journal
               if j.type == "SignalSkipped" and "max_open_positions" in j.data["reason"]]
    assert most == 1
    assert refused and refused[0].startswith("risk.max_open_positions 1 reached")
    symbols = {s for _, s, j in result.recorder.journal if j.type == "PositionOpened"}
    assert symbols == set(FILES)
