"""`[cluster]` settings and a node's startup refusals: one line naming the key, no traceback,
before any lease is taken."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import load_settings
from runtime.cluster_node import check_node, check_timing, database_url, lease_settings
from runtime.cluster_node import node_settings as for_node
from runtime.wiring import StartupError

REPO = Path(__file__).resolve().parents[2]
BASE = """
[bot]
mode = "{mode}"
[exchange]
id = "{exchange}"
timeout_ms = 10000
[symbols]
list = ["BTC/USDT:USDT"]
[cluster]
enabled = true
{cluster}
{storage}
"""


def config(tmp_path: Path, *, mode: str = "live", exchange: str = "bybit", cluster: str = "",
           storage: str = '[storage]\nurl = "postgresql://bot@127.0.0.1:1/bot"') -> Path:
    path = tmp_path / "config.toml"
    path.write_text(BASE.format(mode=mode, exchange=exchange, cluster=cluster, storage=storage))
    return path


def test_a_safety_margin_too_close_to_the_ttl_names_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(config(tmp_path, cluster="lease_ttl_s = 3\nlease_safety_margin_s = 2.5"))
    message = str(err.value)
    assert "\n" not in message and "cluster.lease_safety_margin_s" in message


def test_a_margin_over_a_third_of_the_ttl_is_refused_in_one_line(tmp_path: Path) -> None:
    """The holder must be able to act for two renewal periods after its last good renewal was
    sent: the config refuses a margin over ttl/3, and so does the node's own settings check
    (cluster.lease.LeaseSettings) for settings built another way."""
    with pytest.raises(ConfigError) as err:
        load_settings(config(tmp_path, cluster="lease_ttl_s = 3\nlease_safety_margin_s = 1.5"))
    message = str(err.value)
    assert "\n" not in message and "cluster.lease_safety_margin_s" in message
    assert "1/3" in message
    load_settings(config(tmp_path, cluster="lease_ttl_s = 3\nlease_safety_margin_s = 1.0"))


def test_the_nodes_use_the_cluster_exchange_timeout(tmp_path: Path) -> None:
    s = load_settings(config(tmp_path))
    accounts = for_node(s)
    assert [a.exchange.timeout_ms for a in accounts] == [s.cluster.exchange_timeout_ms]
    lease = lease_settings(s)
    assert lease.takeover_grace_ms == s.cluster.exchange_timeout_ms
    check_node(s, accounts)
    check_timing(lease, accounts)  # the relation holds for what the node builds
    with pytest.raises(StartupError, match="exchange.timeout_ms = 10000 .* takeover grace"):
        check_timing(lease, list(s.account_settings()))  # the account's own 10 s would not


def test_the_leases_database_defaults_to_storage_url(tmp_path: Path) -> None:
    s = load_settings(config(tmp_path))
    assert database_url(s) == "postgresql://bot@127.0.0.1:1/bot"
    bare = load_settings(config(tmp_path, storage="", cluster='shared_dir = "shared"'))
    with pytest.raises(StartupError, match="cluster.database_url: a postgresql://"):
        database_url(bare)


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"exchange": "paper", "mode": "paper"}, 'exchange.id = "paper" is one process'),
    ({"mode": "dry-run"}, "bot.mode = 'dry-run'"),
    ({"storage": ""}, "storage.url: cluster nodes must share"),
])
def test_a_node_refuses_what_cannot_be_shared(tmp_path: Path, kwargs: dict[str, str],
                                              named: str) -> None:
    s = load_settings(config(tmp_path, **kwargs))
    with pytest.raises(StartupError, match=named):
        check_node(s, for_node(s))


def test_bot_py_run_says_it_in_one_line(tmp_path: Path) -> None:
    path = config(tmp_path, exchange="paper", mode="paper")
    done = subprocess.run([sys.executable, "bot.py", "run", "--config", str(path),
                           "--data-dir", str(tmp_path / "data")], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and 'exchange.id = "paper" is one process' in lines[0]


@pytest.mark.parametrize(("cluster", "key"), [
    ("", "storage.url"),  # the leases live in storage.url's database: that is what to fix
    ('database_url = "postgresql://bot@127.0.0.1:1/leases"', "cluster.database_url"),
])
def test_an_unreachable_leases_database_names_the_key_that_set_it(tmp_path: Path, cluster: str,
                                                                  key: str) -> None:
    """`bot.py cluster` (and a node's start) with only storage.url set said
    'cluster.database_url: ...', a key the config does not have."""
    from runtime.cluster_node import show_cluster

    s = load_settings(config(tmp_path, cluster=cluster))
    with pytest.raises(StartupError) as err:  # port 1: refused at once
        show_cluster(s, as_json=False)
    message = str(err.value)
    assert message.startswith(f"{key}: lease database: ") and "\n" not in message


ACCOUNTS = """
[bot]
mode = "live"
[cluster]
enabled = true
[storage]
url = "postgresql://bot@127.0.0.1:1/bot"
[[accounts]]
name = "alpha"
[accounts.exchange]
id = "bybit"
[accounts.symbols]
list = ["BTC/USDT:USDT"]
[[accounts]]
name = "beta"
[accounts.exchange]
id = "bybit"
stop_mode = "bot"
[accounts.symbols]
list = ["ETH/USDT:USDT"]
"""


def test_a_node_refuses_stops_held_by_the_bot(tmp_path: Path) -> None:
    """Found by review: `exchange.stop_mode = "bot"` (no exchange stop for a one-way position)
    was accepted on a node. A node stops its accounts whenever a lease is lost, handed over for
    balance, or the database does not answer; meanwhile nobody holds a bot-side stop level, so
    the positions were unprotected (the README's 'every position keeps its stop across a
    takeover' holds only for exchange stops)."""
    path = config(tmp_path)
    path.write_text(path.read_text().replace('timeout_ms = 10000', 'timeout_ms = 10000\n'
                                             'stop_mode = "bot"'))
    s = load_settings(path)
    with pytest.raises(StartupError) as err:
        check_node(s, for_node(s))
    message = str(err.value)
    assert message.startswith('exchange.stop_mode = "bot"') and "\n" not in message
    path.write_text(ACCOUNTS)  # one of several accounts: named by its index
    s = load_settings(path)
    with pytest.raises(StartupError) as err:
        check_node(s, for_node(s))
    assert str(err.value).startswith('accounts[1].exchange.stop_mode = "bot"')


def test_a_node_refuses_accounts_that_cannot_share_one_rate_budget(tmp_path: Path) -> None:
    """Found by review: a single bot and the parent of `--workers` refuse accounts of one
    process on one venue that set different exchange.rate_budget_share (the budget has one
    share: the others' would be ignored) or whose REST feeds do not fit it together; a node,
    which may hold every account in its one process, started them."""
    path = tmp_path / "config.toml"
    path.write_text(ACCOUNTS.replace('stop_mode = "bot"', "rate_budget_share = 0.3"))
    s = load_settings(path)
    with pytest.raises(StartupError) as err:
        check_node(s, for_node(s))
    message = str(err.value)
    assert "\n" not in message and "exchange.rate_budget_share" in message
    assert "alpha" in message and "beta" in message


def test_a_shared_dir_the_node_cannot_create_names_the_key(tmp_path: Path) -> None:
    """Found by review: the node started (exit 0 at its --duration), and every start of each
    account failed with "[Errno 2] No such file or directory" and its backoff, naming no key."""
    (tmp_path / "a-file").write_text("")
    s = load_settings(config(tmp_path, storage="", cluster=(
        f'shared_dir = "{tmp_path / "a-file" / "shared"}"\n'
        'database_url = "postgresql://bot@127.0.0.1:1/bot"')))
    with pytest.raises(StartupError) as err:
        check_node(s, for_node(s))
    message = str(err.value)
    assert message.startswith("cluster.shared_dir: cannot create ") and "\n" not in message
    fine = load_settings(config(tmp_path, storage="", cluster=(
        f'shared_dir = "{tmp_path / "shared"}"\n'
        'database_url = "postgresql://bot@127.0.0.1:1/bot"')))
    check_node(fine, for_node(fine))
    assert (tmp_path / "shared").is_dir()


def test_a_shared_dir_beside_storage_url_is_refused_not_ignored(tmp_path: Path) -> None:
    """Found by review: with storage.url set, cluster.shared_dir was ignored (the accounts
    live in PostgreSQL) without a word: an operator meaning nodes on one machine to share
    SQLite files, with a storage.url left over, ran something else than configured."""
    s = load_settings(config(tmp_path, cluster=f'shared_dir = "{tmp_path / "shared"}"'))
    with pytest.raises(StartupError) as err:
        check_node(s, for_node(s))
    message = str(err.value)
    assert message.startswith("cluster.shared_dir: set together with storage.url")
    assert "\n" not in message
