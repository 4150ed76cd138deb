"""Lease settings are validated with one line naming the key; node ids are per incarnation."""

from __future__ import annotations

import os

import pytest

from cluster import LeaseSettings, new_node_id


@pytest.mark.parametrize(("kwargs", "named"), [
    ({"ttl_s": 0}, "cluster lease ttl_s: must be > 0"),
    ({"request_timeout_s": -1}, "cluster lease request_timeout_s: must be >= 0"),
    ({"ttl_s": 3, "safety_margin_s": 2.5}, "cluster lease safety_margin_s: must be > 0 and <= 1/3"),
    ({"safety_margin_s": 0}, "cluster lease safety_margin_s"),
])
def test_bad_settings_name_the_key(kwargs: dict[str, float], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        LeaseSettings(**kwargs)


def test_defaults_and_derived_timings() -> None:
    s = LeaseSettings()
    assert s.renew_every_s == s.ttl_s / 3
    assert s.ttl_ms == 6000 and s.takeover_grace_ms == 3000
    # the holder stops acting (ttl - margin after a renewal) before two renewals can fail
    assert s.ttl_s - s.safety_margin_s > 2 * s.renew_every_s - 1e-9


def test_node_ids_are_unique_per_incarnation() -> None:
    ids = {new_node_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(f"-{os.getpid()}-" in i and len(i) <= 200 for i in ids)
