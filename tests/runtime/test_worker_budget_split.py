"""`run --workers N`: each worker process has its own rate budget, while a venue's limit is per
IP. Without a split, two workers trading the same venue (and API host) would together spend
twice `exchange.rate_budget_share` of it: with the default 0.5, the whole limit. The parent
tells each worker how many processes share each of its accounts' venue, and the worker's
accounts take their part. Driven through the parent's real command line and the worker's real
argument parsing (bot.py)."""

from __future__ import annotations

from pathlib import Path

import ccxt
import pytest

import bot
from config.loader import load_settings
from exchange.budget_venues import BYBIT, BudgetRegistry
from exchange.ccxt.budget_hook import api_host
from exchange.ccxt.factory import point_api_at
from runtime.cli import worker_role
from runtime.wiring import StartupError
from runtime.workers import WorkerParent
from runtime.workers_role import budget_venue, venue_split

CONFIG = """
[bot]
mode = "live"
[exchange]
id = "bybit"
rate_budget_share = 0.5
[symbols]
list = ["BTC/USDT:USDT"]

[[accounts]]
name = "alpha"
exchange.api_key_env = "KEY_ALPHA"
exchange.api_secret_env = "SECRET_ALPHA"
[[accounts]]
name = "beta"
exchange.api_key_env = "KEY_BETA"
exchange.api_secret_env = "SECRET_BETA"
[[accounts]]
name = "gamma"
exchange.api_key_env = "KEY_GAMMA"
exchange.api_secret_env = "SECRET_GAMMA"
exchange.id = "binanceusdm"
[[accounts]]
name = "delta"
exchange.api_key_env = "KEY_DELTA"
exchange.api_secret_env = "SECRET_DELTA"
exchange.id = "bybit"
exchange.api_url = "http://127.0.0.1:8765"
"""


def test_one_venue_under_two_spellings_is_one_budget() -> None:
    # found by review: ('binance', '') and ('binanceusdm', '') were two venues, so two workers
    # spent twice the share of one IP limit
    assert budget_venue("binance", "") == budget_venue("binanceusdm", "")
    assert budget_venue("bybit", "http://127.0.0.1:8765/") == budget_venue(
        "bybit", "http://127.0.0.1:8765")
    assert budget_venue("bybit", "") != budget_venue("bybit", "http://127.0.0.1:8765")
    plan = [("alpha",), ("beta",)]
    venues = {"alpha": budget_venue("binance", ""), "beta": budget_venue("binanceusdm", "")}
    assert venue_split(venues, plan) == {"alpha": 2, "beta": 2}


def test_one_host_under_two_spellings_is_one_budget() -> None:
    # found by review: the split keyed hosts by their spelling, so two workers on one
    # emulator (or on the venue, one naming its host, one not) each had the whole share
    for one, other in [("http://localhost:8765", "HTTP://127.0.0.1:8765/"),
                       ("https://api.bybit.com", ""), ("https://API.BYBIT.COM:443/v5", ""),
                       ("http://[::1]:8765", "http://127.0.0.1:8765"),
                       ("https://10.0.0.5", "http://10.0.0.5")]:  # scheme's own port: one host
        assert budget_venue("bybit", one) == budget_venue("bybit", other), (one, other)
    assert budget_venue("binanceusdm", "https://fapi.binance.com") == budget_venue("binance", "")
    for one, other in [("http://127.0.0.1:8765", "http://127.0.0.1:8766"),
                       ("https://10.0.0.5", "https://10.0.0.6"), ("https://proxy.lan", "")]:
        assert budget_venue("bybit", one) != budget_venue("bybit", other), (one, other)
    plan = [("alpha",), ("beta",)]
    venues = {"alpha": budget_venue("bybit", "http://localhost:8765"),
              "beta": budget_venue("bybit", "http://127.0.0.1:8765")}
    assert venue_split(venues, plan) == {"alpha": 2, "beta": 2}


def test_gateways_in_one_process_share_a_host_however_it_is_spelled() -> None:
    """The process's own registry keys budgets the same way (exchange/ccxt/budget_hook.py):
    real ccxt instances pointed at one host under two spellings get one IP budget."""
    registry = BudgetRegistry()
    probes = [point_api_at(ccxt.bybit(), "http://localhost:8765"),
              point_api_at(ccxt.bybit(), "http://127.0.0.1:8765"),
              ccxt.bybit(), point_api_at(ccxt.bybit(), "https://api.bybit.com")]
    venues = [registry.venue(BYBIT, api_host(p), 0.5) for p in probes]
    assert venues[0] is venues[1] and venues[2] is venues[3] and venues[0] is not venues[2]


def test_the_split_counts_workers_per_venue_and_host() -> None:
    venues = {"alpha": ("bybit", ""), "beta": ("bybit", ""), "gamma": ("binance", ""),
              "delta": ("bybit", "http://127.0.0.1:8765")}
    plan = [("alpha", "gamma"), ("beta", "delta")]
    assert venue_split(venues, plan) == {"alpha": 2, "beta": 2, "gamma": 1, "delta": 1}
    assert venue_split(venues, [("alpha", "beta", "gamma", "delta")]) == dict.fromkeys(venues, 1)


def test_each_worker_takes_its_part_of_the_venue_budget(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text(CONFIG)
    settings = load_settings(config)
    parent = WorkerParent(settings, tmp_path / "data", workers=2, config=config)
    parent._plan()
    shares: dict[str, float] = {}
    for worker in parent.workers:
        argv = parent._command(worker)[2:]  # [python, bot.py, worker, ...]
        role = worker_role(bot.parser().parse_args(argv), settings)
        assert not isinstance(role, int), role
        for account in settings.account_settings():
            if role.runs(account.bot.account):
                shares[account.bot.account] = role.budgeted(account).exchange.rate_budget_share
    # alpha (worker 1) and beta (worker 2) trade bybit's default host: half each;
    # gamma (binance) and delta (another host) are alone on theirs
    assert shares == {"alpha": 0.25, "beta": 0.25, "gamma": 0.5, "delta": 0.5}


def test_a_rest_feed_that_does_not_fit_a_workers_part_is_refused_naming_the_split(
        tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    # Binance's REST feed poll weighs 7 (its price ticker 2, positionRisk 5): every 1 s fits
    # the polling part (half) of half the 2,400/min limit, not of a quarter of it (streams
    # off: REST carries the prices)
    config.write_text(CONFIG.replace('id = "bybit"\nrate_budget_share = 0.5',
                                     'id = "binanceusdm"\nrate_budget_share = 0.5\n'
                                     'poll_interval_s = 1.0\nstreams = false')
                      .replace('exchange.id = "binanceusdm"\n', '')
                      .replace('exchange.id = "bybit"\n', 'exchange.id = "binanceusdm"\n'))
    settings = load_settings(config)
    parent = WorkerParent(settings, tmp_path / "data", workers=2, config=config)
    with pytest.raises(StartupError) as err:
        parent._plan()
    message = str(err.value)
    assert message.startswith("--workers: account alpha shares binanceusdm with 1 other worker "
                              "process(es), so it gets 0.5/2 of exchange.rate_budget_share: "
                              "exchange.poll_interval_s = 1 with exchange.rate_budget_share = "
                              "0.25"), message
    one = WorkerParent(settings, tmp_path / "data1", workers=1, config=config)
    # in one process the three Binance feeds pay one budget: each fits alone, not together
    # (this line said "fits" while they needed 22.5 weight/s of the 10 polling may use, at
    # 6 s polls of 45 weight each before the price ticker; 21 at 1 s polls of 7 now)
    with pytest.raises(StartupError, match="accounts alpha, beta, gamma pay one binanceusdm"):
        one._plan()


def test_one_workers_accounts_whose_feeds_fit_alone_but_not_together_are_refused(
        tmp_path: Path) -> None:
    """alpha and beta in one worker on Binance, REST feeds every 1 s: each fits polling's part
    alone (7 of 10 weight/s), together they need 14. The worker would fail its start; the
    parent refuses first, in one line naming both."""
    config = tmp_path / "bot.toml"
    config.write_text(CONFIG.replace('id = "bybit"\nrate_budget_share = 0.5',
                                     'id = "binanceusdm"\nrate_budget_share = 0.5\n'
                                     'poll_interval_s = 1.0\nstreams = false')
                      .replace('exchange.id = "binanceusdm"\n', 'exchange.id = "bybit"\n')
                      .replace('exchange.id = "bybit"\nexchange.api_url', 'exchange.api_url'))
    settings = load_settings(config)
    parent = WorkerParent(settings, tmp_path / "data", workers=1, config=config)
    with pytest.raises(StartupError) as err:
        parent._plan()
    assert "accounts alpha, beta pay one binanceusdm rate budget" in str(err.value)


def test_a_testnet_or_demo_account_does_not_pay_from_the_live_hosts_budget(tmp_path: Path) -> None:
    """The gateway's budget host was read before sandbox/demo mode applied, so a testnet
    account paid from the live account's IP budget in one process and its bans (saved in
    venue_blocks.json) held the live account's protective calls."""
    from exchange.ccxt.factory import exchange_factory
    from exchange.ccxt.gateway import CcxtGateway

    registry = BudgetRegistry()

    def gateway(**mode: bool) -> CcxtGateway:
        return CcxtGateway(exchange_factory("bybit"), budgets=registry, symbols=["BTC/USDT:USDT"],
                           markets_cache=tmp_path / "markets.json", **mode)

    live, testnet, demo, live2 = gateway(), gateway(sandbox=True), gateway(demo=True), gateway()
    assert live.meter.venue is live2.meter.venue
    assert len({id(g.meter.venue) for g in (live, testnet, demo)}) == 3


def test_a_testnet_account_next_to_a_live_one_is_not_refused_nor_split(tmp_path: Path) -> None:
    """The gateways keep a testnet or demo account's budget apart from the live host's (above),
    but the startup check and the workers' split keyed venues by exchange.id and api_url only:
    a live and a testnet Bybit account with different rate_budget_share were refused ('pay one
    bybit rate budget': they do not), and in two workers each took half its share (found by
    review)."""
    from runtime.exchanges import check_shared_feeds

    config = tmp_path / "bot.toml"
    config.write_text(
        '[bot]\nmode = "live"\n[exchange]\nid = "bybit"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
        '[[accounts]]\nname = "live"\nexchange.rate_budget_share = 0.5\n'
        'exchange.api_key_env = "KEY_A"\nexchange.api_secret_env = "SECRET_A"\n'
        '[[accounts]]\nname = "test"\nexchange.sandbox = true\n'
        'exchange.rate_budget_share = 0.8\n'
        'exchange.api_key_env = "KEY_B"\nexchange.api_secret_env = "SECRET_B"\n'
        '[[accounts]]\nname = "demo"\nexchange.demo = true\nexchange.rate_budget_share = 0.3\n'
        'exchange.api_key_env = "KEY_C"\nexchange.api_secret_env = "SECRET_C"\n')
    settings = load_settings(config)
    check_shared_feeds(settings.account_settings())  # three budgets: nothing shared
    parent = WorkerParent(settings, tmp_path / "data", workers=3, config=config)
    parent._plan()
    assert parent.split == {"live": 1, "test": 1, "demo": 1}


def test_paper_accounts_share_no_venue_budget(tmp_path: Path) -> None:
    """Paper accounts in two worker processes were counted as sharing the venue ('paper', ''):
    each worker logged "rate budget: account X shares its venue with 2 worker processes" and
    took half of exchange.rate_budget_share, though a paper exchange has no rate limit and
    each account has its own store. Only real venues are split."""
    config = tmp_path / "bot.toml"
    config.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n[[accounts]]\nname = "alpha"\n'
                      '[[accounts]]\nname = "beta"\n[[accounts]]\nname = "gamma"\n'
                      'exchange.id = "bybit"\n[[accounts]]\nname = "delta"\n'
                      'exchange.id = "bybit"\n')
    settings = load_settings(config)
    assert settings.bot.mode == "paper"
    parent = WorkerParent(settings, tmp_path / "data", workers=2, config=config)
    parent._plan()
    assert sorted(len(w.accounts) for w in parent.workers) == [2, 2]
    assert parent.split == dict.fromkeys(["alpha", "beta", "gamma", "delta"], 1)
    for worker in parent.workers:
        role = worker_role(bot.parser().parse_args(parent._command(worker)[2:]), settings)
        assert not isinstance(role, int), role
        assert all(split <= 1 for _, split in role.budget_split)
