"""Config text shared by tests that start the bot (or its account runtimes) on the paper
exchange: fast polls and heartbeats, a strategy that never signals by itself (window 10000),
no simulated latency. `{data}` is the data dir (str.format)."""

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
