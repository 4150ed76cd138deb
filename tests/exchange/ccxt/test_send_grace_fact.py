"""The send grace is a fact of the exchange port (exchange/port.py `send_grace_s`). Over ccxt (live
venues, and the shared paper server cluster nodes reach over HTTP) it stays 60 s: a create that
timed out may have landed while the venue's lookup by client order id lags, so a pending entry
not found is kept pending that long (trading/order_evidence.py). The in-process exchanges say 0
(tests/actors/test_paper_kill_entry_final.py). A real gateway on the Bybit emulator (real HTTP
on 127.0.0.1), the cores built by production's factories (runtime/wiring.py), as the runtime
wraps the port (CountingPort; a cluster node's FencedExchange)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cluster.fenced_port import FencedExchange
from config.loader import load_settings
from exchange.counting import CountingPort
from runtime import wiring
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator
from trading import order_evidence as oe

BTC = "BTC/USDT:USDT"


class Keeper:
    account = "main"
    node_id = "node-a"

    def acting_lease(self) -> Any:
        return object()


def settings_of(tmp_path: Path, strategy: str) -> Any:
    path = tmp_path / f"{strategy or 'one_way'}.toml"
    path.write_text(f"""
[bot]
mode = "paper"
account = "acc"
[exchange]
id = "paper"
{"hedge_mode = true" if strategy else ""}
[symbols]
list = ["{BTC}"]
{f'[strategy]{chr(10)}name = "{strategy}"' if strategy else ""}
[risk]
order_size_usdt = 100
stop_loss_pct = 5
""")
    return load_settings(path)


def test_the_ccxt_gateway_keeps_the_60_s_send_grace(tmp_path: Path) -> None:
    assert oe.SEND_GRACE_S == 60.0
    with gateway_on_emulator("bybit", tmp_path) as (gateway, _emu):
        assert gateway.send_grace_s == oe.SEND_GRACE_S
        fenced = FencedExchange(gateway, Keeper())  # type: ignore[arg-type]
        for port in (CountingPort(gateway), fenced):
            assert port.send_grace_s == oe.SEND_GRACE_S
            one_way = wiring.core_factory(settings_of(tmp_path, ""), port, "t1")(BTC)
            assert one_way.rules.send_grace_s == oe.SEND_GRACE_S
            grid = wiring.grid_core_factory(settings_of(tmp_path, "hedge_grid"), port, "t1")(BTC)
            assert grid.rules.send_grace_s == oe.SEND_GRACE_S

