"""`--data DIR`: a file's name gives its timeframe (`<SYMBOL>-<tf>.csv`, the download's naming),
and a file holding the header alone is one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.test_bad_input_lines import LTC, ROOT

ETH_SYMBOL, LTC_SYMBOL = "ETHBTC/USDT:USDT", "LTCBTC/USDT:USDT"


def _minutes_file(path: Path, minutes: list[int]) -> None:
    start = 1_700_000_000_000 - 1_700_000_000_000 % 3_600_000
    rows = [f"{start + m * 60_000},100,101,99,100,1" for m in minutes]
    path.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n")


@pytest.mark.parametrize("minutes", [
    [0, 1, *range(3, 200, 2)],  # mostly 2-minute steps: was "off the file's 120 s steps"
    list(range(0, 200, 2)),  # every other minute: ran silently as 2-minute candles, no gap
], ids=["mostly_two_minute_holes", "every_other_minute"])
def test_a_data_files_named_timeframe_is_its_timeframe_not_its_commonest_step(tmp_path,
                                                                               minutes):
    """A 1m file of an illiquid symbol (venues that leave out candles without trades) is 1m
    candles with holes, as `--data DIR --timeframe 1m` (the file's name) says: its holes are
    gaps, refused without --allow-gaps and listed with it; each candle is replayed over one
    minute."""
    import bot
    from backtest import cli
    from config.loader import load_settings

    data = tmp_path / "candles"
    data.mkdir()
    _minutes_file(data / cli.file_name(ETH_SYMBOL, "1m"), minutes)
    _minutes_file(data / cli.file_name(LTC_SYMBOL, "1m"), list(range(200)))
    settings = load_settings(ROOT / "examples" / "backtest.toml")
    argv = ["backtest", "--data", str(data), "--timeframe", "1m"]
    gaps = r"ETHBTC_USDT_USDT-1m\.csv: \d+ gaps \(line [34]: 1 candle missing"
    with pytest.raises(cli.DataError, match=gaps):
        cli.load_all(settings, bot.parser().parse_args(argv))
    for args in (argv, ["backtest", "--data", str(data)]):  # the one file found: its name too
        candles = cli.load_all(settings, bot.parser().parse_args([*args, "--allow-gaps"]))
        eth = candles[ETH_SYMBOL]
        assert eth.timeframe_ms == 60_000
        assert sum(eth.missing_candles(g) for g in eth.gaps) == 200 - len(minutes) - (
            200 - 1 - minutes[-1])


def test_a_data_file_with_the_header_alone_is_one_line(tmp_path):
    """A download that found no candles writes the header alone; with the file's named
    timeframe (`--data DIR --timeframe 5m`) the reader no longer needs two candles to guess
    one, and such a file ended in an IndexError traceback. It is one line naming the file."""
    import bot
    from backtest import cli
    from config.loader import load_settings

    data = tmp_path / "candles"
    data.mkdir()
    (data / cli.file_name(ETH_SYMBOL, "5m")).write_text("timestamp,open,high,low,close,volume\n")
    (data / cli.file_name(LTC_SYMBOL, "5m")).write_bytes(LTC.read_bytes())
    settings = load_settings(ROOT / "examples" / "backtest.toml")
    for timeframe in (["--timeframe", "5m"], []):
        args = bot.parser().parse_args(["backtest", "--data", str(data), *timeframe])
        with pytest.raises(cli.DataError) as caught:
            cli.load_all(settings, args)
        assert str(caught.value) == (f"{data / cli.file_name(ETH_SYMBOL, '5m')}: no candles "
                                     "(only the header)")


def test_a_csv_file_beside_data_is_read_as_it_is(tmp_path):
    """`--csv SYMBOL=FILE` replaces one symbol's `--data` file and is read as it is: a name
    that looks like the download's (`...-1h.csv`) does not make its 5m candles hourly."""
    import bot
    from backtest import cli
    from config.loader import load_settings

    data, own = tmp_path / "candles", tmp_path / "mine"
    data.mkdir()
    own.mkdir()
    _minutes_file(data / cli.file_name(LTC_SYMBOL, "5m"), list(range(0, 1000, 5)))
    mine = own / cli.file_name(ETH_SYMBOL, "1h")
    _minutes_file(mine, list(range(0, 1000, 5)))
    settings = load_settings(ROOT / "examples" / "backtest.toml")
    args = bot.parser().parse_args(["backtest", "--data", str(data), "--timeframe", "5m",
                                    "--csv", f"{ETH_SYMBOL}={mine}"])
    candles = cli.load_all(settings, args)
    assert candles[ETH_SYMBOL].timeframe_ms == 300_000 and not candles[ETH_SYMBOL].gaps


def test_a_to_inside_a_candle_leaves_that_candle_out(tmp_path):
    """`--to` is exclusive: found by review, a candle that opened before it and ended after it
    was replayed (its points at and after `--to` too). Hourly candles from 00:00; `--to 02:30`
    keeps 00:00 and 01:00 (ending at 01:00 and 02:00), not 02:00 (ending at 03:00); `--to
    02:00` keeps the same two; a range inside one candle holds no candle."""
    from backtest import candles as C

    hour = 3_600_000
    start = 1_700_000_000_000 - 1_700_000_000_000 % hour
    path = tmp_path / "h.csv"
    path.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"{start + h * hour},100,101,99,100,1\n" for h in range(5)))
    for to in (start + 2 * hour + hour // 2, start + 2 * hour):
        assert C.load(path, to_ms=to).ts == [start, start + hour]
    with pytest.raises(C.DataError, match="no candles in the range") as refused:
        C.load(path, from_ms=start + hour, to_ms=start + hour + hour // 2)
    # the span it names ends where the last candle ends (05:00 for five hours from 00:00), as
    # the "ends at" notes say, not at that candle's open
    assert f"covers {C.fmt_ms(start)} .. {C.fmt_ms(start + 5 * hour)})" in str(refused.value)


def test_another_instruments_file_is_not_taken_for_the_symbols(tmp_path):
    """`--data DIR` without `--timeframe` looks for `<SYMBOL>-<tf>.csv`, found with the pattern
    `<SYMBOL>-*.csv`, which a dated future's download also matches (`BTC/USDT:USDT-240329`
    writes `BTC_USDT_USDT-240329-5m.csv`). Found by review: with only that file in the folder,
    the perpetual was backtested on the future's candles, without a word; with the perpetual's
    own file beside it, the run was refused as having several files."""
    import bot
    from backtest import cli
    from config.loader import load_settings

    data = tmp_path / "candles"
    data.mkdir()
    _minutes_file(data / cli.file_name(f"{ETH_SYMBOL}-240329", "5m"), list(range(0, 1000, 5)))
    _minutes_file(data / cli.file_name(LTC_SYMBOL, "5m"), list(range(0, 1000, 5)))
    settings = load_settings(ROOT / "examples" / "backtest.toml")
    args = bot.parser().parse_args(["backtest", "--data", str(data)])
    with pytest.raises(cli.DataError, match=r"no ETHBTC_USDT_USDT-\*\.csv in it"):
        cli.load_all(settings, args)
    own = data / cli.file_name(ETH_SYMBOL, "5m")
    _minutes_file(own, list(range(0, 1000, 5)))
    assert cli.load_all(settings, args)[ETH_SYMBOL].path == own


def _refusal(tmp_path: Path, *options: str) -> str:
    """The one DataError line `cli.data_files` gives for these backtest options."""
    import bot
    from backtest import cli
    from config.loader import load_settings

    settings = load_settings(ROOT / "examples" / "backtest.toml")
    args = bot.parser().parse_args(["backtest", *options])
    with pytest.raises(cli.DataError) as refused:
        cli.data_files(settings, args)
    return str(refused.value)


def test_data_file_refusals_name_the_symbol_and_the_file(tmp_path: Path) -> None:
    """Pins `backtest/cli.py data_files`: each refusal no in-process test reached, as one line
    naming what to do."""
    from backtest import cli

    data = tmp_path / "candles"
    data.mkdir()
    for tf in ("1m", "5m"):
        _minutes_file(data / cli.file_name(ETH_SYMBOL, tf), [0, 1])
    assert _refusal(tmp_path, "--data", str(data)) == (
        f"--data {data}: several files for {ETH_SYMBOL} ({cli.file_name(ETH_SYMBOL, '1m')}, "
        f"{cli.file_name(ETH_SYMBOL, '5m')}); pick one with --timeframe")
    assert _refusal(tmp_path, "--csv", "nofile") == "--csv 'nofile': expected SYMBOL=FILE"
    part = data / (cli.file_name(LTC_SYMBOL, "1m") + ".part")
    part.write_text("")
    (data / cli.file_name(ETH_SYMBOL, "5m")).unlink()
    assert _refusal(tmp_path, "--data", str(data)) == (
        f"{part}: an interrupted download ({LTC_SYMBOL} has no finished file); run the same "
        "bot.py download again to finish it")
    (data / (cli.file_name(ETH_SYMBOL, "1h") + ".part")).write_text("")
    eth_1h = data / cli.file_name(ETH_SYMBOL, "1h")
    assert _refusal(tmp_path, "--data", str(data), "--timeframe", "1h") == (
        f"{eth_1h}: not there, {eth_1h.name}.part is: an interrupted download; run the same "
        "bot.py download again to finish it")
    part.unlink()
    assert _refusal(tmp_path, "--data", str(data)) == (
        f"--data {data}: no {cli.file_name(LTC_SYMBOL, '*')} in it (no candle data for "
        f"{LTC_SYMBOL}; bot.py download writes <SYMBOL>-<timeframe>.csv files)")


def test_a_range_inside_a_hole_of_the_file_says_so(tmp_path):
    """Found by review: `--from 2024-01-13T01:00 --to 2024-01-13T05:00` on a file with a hole
    from 00:00 to 07:00 that day was refused with "(the file covers 2024-01-06 00:00 ..
    2024-01-31 00:00)", which holds the range: the line did not say why it had no candles.
    Hourly candles 00:00, 01:00, then 05:00, 06:00 (a hole from 02:00 to 05:00)."""
    from backtest import candles as C

    hour = 3_600_000
    start = 1_700_000_000_000 - 1_700_000_000_000 % hour
    path = tmp_path / "h.csv"
    path.write_text("timestamp,open,high,low,close,volume\n" + "".join(
        f"{start + h * hour},100,101,99,100,1\n" for h in (0, 1, 5, 6)))
    with pytest.raises(C.DataError, match="no candles in the range") as refused:
        C.load(path, from_ms=start + 2 * hour, to_ms=start + 4 * hour)
    assert str(refused.value).endswith(
        f"(the file covers {C.fmt_ms(start)} .. {C.fmt_ms(start + 7 * hour)}; the range lies in "
        f"its hole from {C.fmt_ms(start + 2 * hour)} to {C.fmt_ms(start + 5 * hour)})")
    assert "\n" not in str(refused.value)
