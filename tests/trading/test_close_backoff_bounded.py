"""The close backoff of both styles is bounded for any count (found by review: the grid's
level failures fed it without bound, and after ~1,025 of them, a level refused for ~17 hours,
2 ** 1024 overflowed the float and every actor of the style crashed)."""

from __future__ import annotations

import pytest

from tests.trading.conftest import make_rules


@pytest.mark.parametrize("attempts", [1, 2, 10, 1_025, 10**6])
def test_the_one_way_close_backoff_is_a_number_at_most_the_max(attempts: int) -> None:
    risk = make_rules().risk
    wait = risk.close_backoff(attempts)
    assert 0 < wait <= risk.close_backoff_max_s
    if attempts >= 1_025:
        assert wait == risk.close_backoff_max_s


def test_the_grid_close_backoff_too() -> None:
    from tests.trading.test_grid_core import rules

    r = rules()
    assert r.close_backoff(10**6) == r.close_backoff_max_s
    assert r.close_backoff(1) == r.close_backoff_initial_s
