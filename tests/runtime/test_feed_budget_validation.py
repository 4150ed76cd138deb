"""Settings whose feed alone would exhaust the venue's rate budget never start: one line that
names the keys and the value that works."""

from __future__ import annotations

import pytest

from config.loader import load_settings
from exchange.budget_venues import feed_shortfall
from runtime.exchanges import build_live, check_feed_budget, feed_sharers, rest_poll_interval
from runtime.wiring import StartupError
from tests.e2e.bot_process import write_config


def test_binance_feed_too_fast_for_the_budget_is_refused_in_one_line(tmp_path):
    config = write_config(tmp_path / "c.toml", ["BTC/USDT:USDT"], bot={"mode": "live"},
                          exchange={"id": "binanceusdm", "poll_interval_s": 0.5,
                                    "streams": False})
    with pytest.raises(StartupError) as err:
        build_live(load_settings(config), tmp_path)
    line = str(err.value)
    assert "\n" not in line
    assert "exchange.poll_interval_s" in line and "exchange.rate_budget_share" in line
    assert ">= 0.70" in line  # (2 + 5) weight per poll / 10 weight/s for polling


@pytest.mark.parametrize("min_volume,fits,too_fast", [(0, 0.7, 0.69), (1000, 0.75, 0.74)])
def test_a_rest_only_binance_feed_starts_at_the_interval_its_price_read_fits(
        tmp_path, min_volume, fits, too_fast):
    """Binance's REST prices come from its price ticker (weight 2, with positionRisk 5 for the
    fills: 7 a poll), not ticker/24hr (40: 45 a poll, so a REST-only feed needed >= 4.5 s). The
    24 h volumes, read once a minute when strategy.min_volume uses them, take 40 a minute
    (0.67/s) of polling's 10 weight/s: 7 / 9.33 = 0.75 s."""
    for interval, starts in ((fits, True), (too_fast, False)):
        config = write_config(tmp_path / f"c{interval}.toml", ["BTC/USDT:USDT"],
                              bot={"mode": "live"}, strategy={"min_volume": min_volume},
                              exchange={"id": "binanceusdm", "poll_interval_s": interval,
                                        "streams": False})
        if starts:
            check_feed_budget(load_settings(config))  # no StartupError
            continue
        with pytest.raises(StartupError) as err:
            check_feed_budget(load_settings(config))
        assert f">= {fits:.2f}" in str(err.value)
        assert ("ticker/24hr" in str(err.value)) == (min_volume > 0), err.value


def test_volume_reads_that_alone_take_pollings_part_name_min_volume():
    short = feed_shortfall("binanceusdm", 60.0, 0.02, volumes=True)  # 0.4 weight/s polling
    assert short is not None and "strategy.min_volume = 0" in short
    assert feed_shortfall("binanceusdm", 60.0, 0.02) is None  # 7 a minute of 24


def test_settings_that_fit_pass():
    assert feed_shortfall("binanceusdm", 5.0, 0.5) is None
    assert feed_shortfall("bybit", 0.5, 0.5) is None  # 4 requests/s of 30 for polling
    assert feed_shortfall("bybit", 0.05, 0.1) is not None  # 40/s against 6/s
    assert feed_shortfall("okx", 0.05, 0.1) is None  # no documented profile: not judged


def test_with_streams_the_shipped_poll_interval_starts_and_rest_fallback_slows_to_fit(tmp_path):
    """The shipped config (poll_interval_s = 0.5, streams on) in live mode on Binance: prices
    come from the streams, so startup is not refused; REST, polled only while the streams are
    down, runs at the interval the budget allows. Bybit's feed fits at 0.5 s as it is."""
    for venue, expected in (("binanceusdm", 0.7), ("bybit", 0.5)):
        config = write_config(tmp_path / f"{venue}.toml", ["BTC/USDT:USDT"],
                              bot={"mode": "live"}, exchange={"id": venue})
        settings = load_settings(config)
        assert settings.exchange.poll_interval_s == 0.5 and settings.exchange.streams
        check_feed_budget(settings)  # no StartupError
        assert rest_poll_interval(settings) == pytest.approx(expected)
    paper = load_settings(write_config(tmp_path / "paper.toml", ["BTC/USDT:USDT"]))
    assert rest_poll_interval(paper) == paper.exchange.poll_interval_s


def test_binance_under_its_ccxt_id_binance_is_checked_as_binanceusdm():
    # `limits_for` gives exchange.id "binance" Binance USDⓈ-M's weight limit; its feed cost
    # was missing, so a REST feed that breaks the limit started unchecked under that id
    short = feed_shortfall("binance", 0.5, 0.5)
    assert short == feed_shortfall("binanceusdm", 0.5, 0.5).replace("binanceusdm", "binance")
    assert feed_shortfall("binance", 0.7, 0.5) is None


def test_accounts_whose_feeds_fit_alone_but_not_together_on_one_budget_never_start(tmp_path):
    """Two Binance accounts in one process pay one venue budget (exchange/budget_venues.py
    SHARED). Each REST feed at 1 s fits alone (7 of the 10 weight/s polling may use), so each
    passed its own check, and together they needed 14/s: their polls were refused about every
    third time, with a warning each. (At 5 s, 45 weight a poll before the price ticker.)"""
    import os

    from tests.e2e.bot_process import start_bot

    config = tmp_path / "c.toml"
    config.write_text(
        '[bot]\nmode = "live"\n[logging]\nconsole = false\n'
        '[exchange]\nid = "binanceusdm"\npoll_interval_s = 1.0\nstreams = false\n'
        'api_url = "http://127.0.0.1:9"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
        '[[accounts]]\nname = "alpha"\nexchange.api_key_env = "KEY_A"\n'
        'exchange.api_secret_env = "SECRET_A"\n'
        '[[accounts]]\nname = "beta"\nexchange.api_key_env = "KEY_B"\n'
        'exchange.api_secret_env = "SECRET_B"\n')
    env = {**os.environ, "KEY_A": "a" * 18, "SECRET_A": "s" * 36,
           "KEY_B": "b" * 18, "SECRET_B": "t" * 36}
    for one in load_settings(config).account_settings():
        check_feed_budget(one)  # each alone fits
    proc = start_bot(config, tmp_path / "data", env=env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert "accounts alpha, beta" in lines[0] and "exchange.poll_interval_s" in lines[0]
    assert "exchange.rate_budget_share" in lines[0] and ">= 1.40" in lines[0]
    # the file and the line that sets the interval, as every other start refusal names them
    assert lines[0].startswith(
        f"bot.py: error: {config}:7: accounts[0].exchange.poll_interval_s: "), lines[0]


def test_accounts_with_different_shares_of_one_budget_are_refused_at_the_line(tmp_path):
    """The refusal of two shares of one venue budget was printed bare ('accounts alpha, beta
    pay one bybit rate budget but ...'): no file, no line, where every other start refusal
    names both. It now names the line of the account whose share differs."""
    import os

    from tests.e2e.bot_process import start_bot

    config = tmp_path / "c.toml"
    config.write_text(
        '[bot]\nmode = "live"\n[logging]\nconsole = false\n'
        '[exchange]\nid = "bybit"\napi_url = "http://127.0.0.1:9"\n'
        '[symbols]\nlist = ["BTC/USDT:USDT"]\n'
        '[[accounts]]\nname = "alpha"\nexchange.rate_budget_share = 0.8\n'
        'exchange.api_key_env = "KEY_A"\nexchange.api_secret_env = "SECRET_A"\n'
        '[[accounts]]\nname = "beta"\nexchange.api_key_env = "KEY_B"\n'
        'exchange.api_secret_env = "SECRET_B"\nexchange.rate_budget_share = 0.1\n')
    env = {**os.environ, "KEY_A": "a" * 18, "SECRET_A": "s" * 36,
           "KEY_B": "b" * 18, "SECRET_B": "t" * 36}
    proc = start_bot(config, tmp_path / "data", env=env)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert lines[0].startswith(
        f"bot.py: error: {config}:19: accounts[1].exchange.rate_budget_share = 0.1: "
        "accounts alpha, beta pay one bybit rate budget"), lines[0]


def test_accounts_on_one_budget_with_different_shares_never_start(tmp_path):
    """The venue budget of a process is built by the first gateway on it, with that account's
    rate_budget_share: another account's share on the same venue was silently unused (beta's
    0.1, meant to leave room for other programs on the IP, ran at alpha's 0.8)."""
    from runtime.exchanges import check_shared_feeds

    config = tmp_path / "c.toml"
    config.write_text(
        '[bot]\nmode = "live"\n[exchange]\nid = "bybit"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
        '[[accounts]]\nname = "alpha"\nexchange.rate_budget_share = 0.8\n'
        'exchange.api_key_env = "KEY_A"\n'
        '[[accounts]]\nname = "beta"\nexchange.rate_budget_share = 0.1\n'
        'exchange.api_key_env = "KEY_B"\n'
        '[[accounts]]\nname = "gamma"\nexchange.id = "binanceusdm"\n'
        'exchange.rate_budget_share = 0.1\nexchange.api_key_env = "KEY_C"\n')
    accounts = load_settings(config).account_settings()
    with pytest.raises(StartupError) as err:
        check_shared_feeds(accounts)
    line = str(err.value)
    assert "\n" not in line and "accounts alpha, beta pay one bybit rate budget" in line
    assert "exchange.rate_budget_share = 0.8, 0.1" in line
    check_shared_feeds([accounts[0], accounts[2]])  # other venues: their own budgets


def test_accounts_on_one_budget_slow_their_rest_fallback_to_their_part(tmp_path):
    """With the streams on, each live account's REST fallback took the pace that fits the whole
    polling budget (Binance: 0.7 s): a venue's streams go down for every account at once, so
    two accounts polled 20 weight/s against 10, half the polls refused. Each now takes its
    part: 1.4 s for two accounts on Binance (7 weight a poll); another venue's account keeps
    its own."""
    config = tmp_path / "c.toml"
    config.write_text(
        '[bot]\nmode = "live"\n[exchange]\nid = "binanceusdm"\n'
        '[symbols]\nlist = ["BTC/USDT:USDT"]\n'
        '[[accounts]]\nname = "alpha"\nexchange.api_key_env = "KEY_A"\n'
        '[[accounts]]\nname = "beta"\nexchange.id = "binanceusdm"\n'
        'exchange.api_key_env = "KEY_B"\n'
        '[[accounts]]\nname = "gamma"\nexchange.id = "bybit"\n'
        'exchange.api_key_env = "KEY_C"\n')
    accounts = load_settings(config).account_settings()
    sharers = feed_sharers(accounts)
    assert sharers == {"alpha": 2, "beta": 2, "gamma": 1}
    paces = [rest_poll_interval(a, sharers[a.bot.account]) for a in accounts]
    assert paces == [pytest.approx(1.4), pytest.approx(1.4), pytest.approx(0.5)]


def test_the_feed_is_priced_as_the_budget_prices_its_requests(tmp_path):
    """The feed's figures are the budget's own prices of its requests (request_costs.py), and
    the start check of the REST schedule counts the volume reads only when they are made."""
    from exchange.budget_venues import FEED_POLL_COST, FEED_VOLUME_COST
    from exchange.ccxt.request_costs import Request, units
    from runtime.rest_demand import streams_down_demand

    prices = units("binanceusdm", Request("fapiPublicV2", "GET", "ticker/price", False))
    positions = units("binanceusdm", Request("fapiPrivateV3", "GET", "positionRisk", False))
    volumes = units("binanceusdm", Request("fapiPublic", "GET", "ticker/24hr", False))
    assert (prices, positions, volumes) == (2, 5, 40)
    assert FEED_POLL_COST["binanceusdm"][0] == prices + positions
    assert FEED_VOLUME_COST["binanceusdm"][0] == volumes
    for min_volume, feed in ((0, 7 * 80), (1000, 7 * 80 + 40)):  # 0.75 s polls: 80 a minute
        config = write_config(tmp_path / f"d{min_volume}.toml", ["BTC/USDT:USDT"],
                              bot={"mode": "live"}, strategy={"min_volume": min_volume},
                              exchange={"id": "binanceusdm", "poll_interval_s": 0.75,
                                        "streams": False})
        demand = streams_down_demand(load_settings(config))
        assert demand is not None and demand.feed == pytest.approx(feed)
