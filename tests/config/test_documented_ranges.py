"""Every numeric range config.toml's comments state is the one the loader enforces, at both
ends: a bound the comment includes (`0.1..60`, `<= 50`, `>= 0`) loads, a bound it excludes
(`> 0`, `< 100`, `(0, 1]`) and the value just past an included one are refused naming the key.

Found by a mutation audit: most ranges were pinned only by the wording of one refusal (or not
at all), so `le=600_000` -> `le=600_001` for exchange.timeout_ms, `{1,12}` -> `{1,13}` for
bot.account, `ge=5` -> `ge=4` for strategy.window, `le=1` -> `le=1.5` for
exchange.rate_budget_share and a dozen more such changes passed every test while the comment
a user reads said otherwise. It also found the comments wrong: strategy.grid.step_pct "<= 50"
never loaded at 50 (recalc_pct must exceed it and is at most 50, a limit no comment stated),
now `< 50` in the code and the comment, and stream_symbol_silent_s's floor of 1 s was not
stated."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parents[2]
_KEY = re.compile(r"^(#\s*)?([a-z_]+)\s*=\s*(\S+)\s*#\s?(.*)$")
_MORE = re.compile(r"^\s+#\s?(.*)$")  # a comment continued under the one of the key above
_NUM = r"-?\d+(?:\.\d+)?"


def _comments() -> dict[str, tuple[str, str]]:
    """dotted key -> (its default as written, its whole comment, continuation lines joined)."""
    found: dict[str, tuple[str, str]] = {}
    table, last = "", None
    for line in (ROOT / "config.toml").read_text(encoding="utf-8").splitlines():
        header = re.match(r"^\[([a-z_.]+)\]", line)
        if header:
            table, last = header.group(1), None
            continue
        more = _MORE.match(line)
        if more and last is not None:
            default, text = found[last]
            found[last] = (default, f"{text} {more.group(1)}")
            continue
        key = _KEY.match(line)
        last = None
        if key and table:
            last = f"{table}.{key.group(2)}"
            found[last] = (key.group(3), key.group(4))
    return found


def _bounds(comment: str) -> list[tuple[str, Decimal]]:
    """The numeric bounds the comment's range states, as (op, bound): ops ">=", ">", "<=", "<".
    The range is the comment's last `;` part, outside parentheses (those qualify it: `(price_source
    = "csv": >= 4)`); `(0, 1]` is interval notation."""
    interval = re.search(rf"([(\[])({_NUM}), ({_NUM})([)\]])", comment)
    if interval:
        low, high = Decimal(interval.group(2)), Decimal(interval.group(3))
        return [(">=" if interval.group(1) == "[" else ">", low),
                ("<=" if interval.group(4) == "]" else "<", high)]
    text = comment
    while re.search(r"\([^()]*\)", text):
        text = re.sub(r"\([^()]*\)", "", text)
    text = text.rsplit(";", 1)[-1]
    found: list[tuple[str, Decimal]] = []
    for low, high in re.findall(rf"(?<![\w.])({_NUM})?\.\.({_NUM})(?![\w])", text):
        if low:
            found.append((">=", Decimal(low)))
        found.append(("<=", Decimal(high.rstrip("."))))
    for op, value in re.findall(rf"(>=|<=|>|<)\s*({_NUM})", text):
        found.append((op, Decimal(value)))
    return found


# What each key's bounds are checked with, where the defaults of other keys would refuse a value
# the key's own range allows (a check of two keys): the other keys set out of the way.
_CONTEXT: dict[str, dict[str, dict[str, Any]]] = {
    "exchange.poll_interval_s": {"risk": {"max_price_age_s": 86400}},
    "exchange.stream_stale_s": {"exchange": {"stream_symbol_silent_s": 3600},
                                "risk": {"max_price_age_s": 86400}},
    "exchange.stream_symbol_silent_s": {"exchange": {"stream_stale_s": 0.5},
                                        "risk": {"max_price_age_s": 86400}},
    "risk.max_price_age_s": {"exchange": {"streams": False, "poll_interval_s": 0.05}},
    "strategy.entry_z": {"strategy": {"exit_z": 0}},
    "strategy.grid.step_pct": {"strategy.grid": {"recalc_pct": 50}},
    "supervision.heartbeat_interval_s": {"supervision": {"heartbeat_timeout_s": 7200}},
    "logging.rotate_mb": {"logging": {"max_total_mb": 0}},
}
EXPECTED = {
    "bot.status_interval_s", "bot.switch_interval_ms", "exchange.poll_interval_s",
    "exchange.timeout_ms", "exchange.rate_budget_share", "exchange.entry_max_wait_s",
    "exchange.stream_stale_s", "exchange.stream_symbol_silent_s", "strategy.window",
    "strategy.entry_z", "strategy.exit_z", "strategy.min_volatility_pct", "strategy.min_volume",
    "strategy.grid.levels", "strategy.grid.step_pct", "strategy.grid.size_multiplier",
    "strategy.grid.take_profit_pct", "strategy.grid.recalc_pct", "risk.order_size_usdt",
    "risk.leverage",
    "risk.stop_loss_pct", "risk.trailing_activation_pct", "risk.trailing_callback_pct",
    "risk.trailing_step_pct", "risk.take_profit_pct", "risk.cooldown_after_loss_s",
    "risk.max_open_positions", "risk.max_price_age_s", "supervision.heartbeat_interval_s",
    "supervision.mailbox_max", "supervision.max_restarts", "supervision.restart_period_s",
    "supervision.backoff_initial_s", "supervision.stable_after_s",
    "supervision.worker_start_timeout_s", "supervision.max_close_attempts",
    "supervision.close_backoff_initial_s", "supervision.kill_switch_escalations",
    "supervision.kill_switch_window_s", "supervision.reconcile_interval_s",
    "supervision.stop_check_interval_s", "supervision.stop_check_streamed_interval_s",
    "supervision.streamed_reconcile_interval_s", "supervision.sweep_interval_s",
    "logging.rotate_mb", "logging.retention", "paper.starting_balance_usdt", "paper.latency_ms",
    "paper.taker_fee", "paper.maker_fee", "paper.slippage_bps", "paper.step_ms", "paper.speed",
    "signals.port", "signals.max_per_wave", "signals.wave_window_s", "signals.max_age_s",
    "signals.reconnect_initial_s", "signals.reconnect_jitter", "dashboard.port",
}
"""The keys whose comment states a numeric range (so a comment the parser stopped reading, or
a range taken out of a comment, is noticed here)."""


def _ranged() -> list[tuple[str, str, str, Decimal]]:
    return [(key, default, op, bound) for key, (default, comment) in _comments().items()
            if not default.startswith('"') for op, bound in _bounds(comment)]


def test_the_comments_state_the_ranges_this_test_checks():
    assert {key for key, *_ in _ranged()} == EXPECTED


def _cases() -> list[Any]:
    cases = []
    for key, default, op, bound in _ranged():
        step = Decimal("0.001") if "." in default else Decimal(1)
        inside = {">=": bound, ">": bound + step, "<=": bound, "<": bound - step}[op]
        outside = {">=": bound - step, ">": bound, "<=": bound + step, "<": bound}[op]
        cases.append(pytest.param(key, inside, True, id=f"{key}={inside} loads ({op} {bound})"))
        cases.append(pytest.param(key, outside, False,
                                  id=f"{key}={outside} refused ({op} {bound})"))
    return cases


def _toml(tables: dict[str, dict[str, Any]]) -> str:
    def value(v: Any) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else str(v)

    return "".join(f"[{table}]\n" + "".join(f"{k} = {value(v)}\n" for k, v in keys.items())
                   for table, keys in tables.items())


@pytest.mark.parametrize(("key", "value", "loads"), _cases())
def test_a_documented_bound_is_the_enforced_one(tmp_path: Path, key: str, value: Decimal,
                                                loads: bool):
    table, name = key.rsplit(".", 1)
    tables: dict[str, dict[str, Any]] = {t: dict(k) for t, k in _CONTEXT.get(key, {}).items()}
    tables.setdefault(table, {})[name] = value
    tables.setdefault("symbols", {})["list"] = '["BTC/USDT:USDT"]'
    path = tmp_path / "config.toml"
    path.write_text(_toml(tables))
    if loads:
        settings = load_settings(path)
        got = settings
        for part in key.split("."):
            got = getattr(got, part)
        assert Decimal(str(got)) == value
        return
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    message = str(info.value)
    assert "\n" not in message
    assert re.match(rf"{re.escape(str(path))}:\d+: {re.escape(key)}: must be ", message), message


@pytest.mark.parametrize(("name", "loads"), [("a" * 12, True), ("a" * 13, False), ("", False)])
def test_bot_account_is_1_to_12_characters_as_its_comment_says(tmp_path: Path, name: str,
                                                                loads: bool):
    """config.toml: `account = "main"  # ...; [a-z0-9_], 1..12 chars`."""
    assert "[a-z0-9_], 1..12 chars" in _comments()["bot.account"][1]
    path = tmp_path / "config.toml"
    path.write_text(f'[bot]\naccount = "{name}"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n')
    if loads:
        assert load_settings(path).bot.account == name
        return
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:2: bot.account: must be "):
        load_settings(path)
