"""Checks of two keys at their edge: the value equal to the other key's is refused where
config.toml's comment says `<` or `>`, loaded where it says `>=`, and a pair the comment rules
out (`demo ... (not with sandbox)`) is refused naming the key.

Found by a mutation audit: every such check was tested only well past its edge (exit_z = 2.5
against entry_z = 2.0, recalc_pct = 1 against step_pct = 2), so `exit_z >= entry_z` weakened to
`exit_z > entry_z` (exit_z = entry_z: a position closed on the next price at the level that
opened it, paying the fees for nothing), `recalc_pct <= step_pct` to `<`, the
stream_symbol_silent_s >= stream_stale_s check weakened, a csv replay's step_ms >= 4 let
3 through, and sandbox + demo allowed together
(which venue would the keys trade on?), all passed every test."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from config import ConfigError, load_settings

SYMBOLS = '[symbols]\nlist = ["BTC/USDT:USDT"]\n'

REFUSED = [
    # config.toml: exit_z ... `>= 0 and < entry_z`
    ("[strategy]\nentry_z = 2.0\nexit_z = 2.0\n", 3, "strategy.exit_z",
     "must be < strategy.entry_z (2.0) (got 2.0)"),
    # strategy.grid.recalc_pct `> step_pct`
    ("[strategy.grid]\nstep_pct = 1.5\nrecalc_pct = 1.5\n", 3, "strategy.grid.recalc_pct",
     "must be > strategy.grid.step_pct (1.5) (got 1.5)"),
    # exchange.stream_symbol_silent_s `>= stream_stale_s`
    ("[exchange]\nstream_stale_s = 20.0\nstream_symbol_silent_s = 19.5\n", 3,
     "exchange.stream_symbol_silent_s", "must be >= exchange.stream_stale_s (20.0) (got 19.5)"),
    # exchange.demo `(not with sandbox)`
    ("[exchange]\nsandbox = true\ndemo = true\n", 3, "exchange.demo",
     "cannot be combined with exchange.sandbox"),
    # supervision.heartbeat_timeout_s `> heartbeat_interval_s`
    ("[supervision]\nheartbeat_interval_s = 2.0\nheartbeat_timeout_s = 2.0\n", 3,
     "supervision.heartbeat_timeout_s", "must be > supervision.heartbeat_interval_s (2.0)"),
    # paper.step_ms `(price_source = "csv": >= 4)`
    ('[paper]\nprice_source = "csv"\nstep_ms = 3\ncsv_files = {"BTC/USDT:USDT" = "b.csv"}\n', 3,
     "paper.step_ms", 'must be >= 4 with paper.price_source = "csv" (4 price points per candle) '
     "(got 3)"),
]

LOADS = [
    ("[strategy]\nentry_z = 2.0\nexit_z = 1.999\n", ("strategy", "exit_z"), 1.999),
    ("[strategy.grid]\nstep_pct = 1.5\nrecalc_pct = 1.501\n", ("strategy", "grid", "recalc_pct"),
     Decimal("1.501")),
    ("[exchange]\nstream_stale_s = 20.0\nstream_symbol_silent_s = 20.0\n",
     ("exchange", "stream_symbol_silent_s"), 20.0),
    ("[exchange]\ndemo = true\n", ("exchange", "demo"), True),
    ("[supervision]\nbackoff_initial_s = 3.0\nbackoff_max_s = 3.0\n",
     ("supervision", "backoff_max_s"), 3.0),
    ("[supervision]\nclose_backoff_initial_s = 4.0\nclose_backoff_max_s = 4.0\n",
     ("supervision", "close_backoff_max_s"), 4.0),
    ("[signals]\nreconnect_initial_s = 5.0\nreconnect_max_s = 5.0\n",
     ("signals", "reconnect_max_s"), 5.0),
]


@pytest.mark.parametrize(("text", "line", "key", "detail"), REFUSED)
def test_the_edge_a_comment_excludes_is_refused_naming_the_key_and_line(
        tmp_path: Path, text: str, line: int, key: str, detail: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text + SYMBOLS)
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{path}:{line}: {key}: {detail}"), message


@pytest.mark.parametrize(("text", "field", "value"), LOADS)
def test_the_edge_a_comment_includes_loads(tmp_path: Path, text: str, field: tuple[str, ...],
                                           value: object) -> None:
    path = tmp_path / "config.toml"
    path.write_text(text + SYMBOLS)
    got: object = load_settings(path)
    for part in field:
        got = getattr(got, part)
    assert got == value


def test_the_comments_say_so() -> None:
    text = (Path(__file__).resolve().parents[2] / "config.toml").read_text(encoding="utf-8")
    for needle in (">= 0 and < entry_z", '(price_source = "csv": >= 4)', "; > step_pct",
                   ">= stream_stale_s", "(not with sandbox)", "> heartbeat_interval_s",
                   ">= backoff_initial_s", ">= close_backoff_initial_s", ">= reconnect_initial_s"):
        assert re.search(re.escape(needle), text), needle
