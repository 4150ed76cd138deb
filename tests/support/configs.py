"""Config text shared by tests that start the bot (or its account runtimes) on the paper
exchange: fast polls and heartbeats, a strategy that never signals by itself (window 10000),
no simulated latency. `{data}` is the data dir (str.format)."""

from pathlib import Path

from loguru import logger

from config.loader import load_settings
from runtime.account import AccountRuntime

QUIET_PAPER = """
[bot]
data_dir = "{data}"
[exchange]
poll_interval_s = 0.05
[strategy]
window = 10000
[paper]
latency_ms = 0
[supervision]
heartbeat_interval_s = 0.05
"""

NO_DASHBOARD_CONSOLE_LOG = """[dashboard]
enabled = false
[logging]
console = true
"""


def account(name: str, symbol: str) -> str:
    """One `[[accounts]]` entry trading `symbol`."""
    return f'\n[[accounts]]\nname = "{name}"\nsymbols.list = ["{symbol}"]\n'


def paper_hedge_grid(symbols: list[str], *, grid: str = "levels = 1\ntake_profit_pct = 5",
                     risk: str = "") -> str:
    """A whole config: account "grid" in paper mode, a hedge grid on `symbols` (data dir "data"),
    fast polls and heartbeats, no latency, reconciliations an hour apart, no console log.
    `grid`: the [strategy.grid] lines; `risk`: lines after the [risk] basics (a further key,
    or whole sections that follow it)."""
    listed = ", ".join(f'"{s}"' for s in symbols)
    return f"""
[bot]
mode = "paper"
data_dir = "data"
account = "grid"
[exchange]
id = "paper"
hedge_mode = true
poll_interval_s = 0.05
[symbols]
list = [{listed}]
[strategy]
name = "hedge_grid"
[strategy.grid]
{grid}
[risk]
order_size_usdt = 100
leverage = 5
stop_loss_pct = 10
{risk}
[paper]
latency_ms = 0
[supervision]
heartbeat_interval_s = 0.05
heartbeat_timeout_s = 10
reconcile_interval_s = 3600
[logging]
console = false
"""


def opened_account(tmp_path: Path, config: str | None = None) -> AccountRuntime:
    """The account runtime of tmp_path/config.toml (written first from `config`, if given),
    opened (its lock and database); not built or started."""
    if config is not None:
        (tmp_path / "config.toml").write_text(config)
    settings = load_settings(tmp_path / "config.toml")
    account = AccountRuntime(settings, settings.data_dir_path(), logger=logger, tagged=False)
    account.open()
    return account
