"""The status dump's cluster block when the cluster cannot be read (cluster/view.py
view_or_error, read by runtime/cluster_node.py NodeRun on its own thread)."""

from __future__ import annotations

from typing import Any

from cluster.lease import LeaseSettings, LeaseStoreUnavailable
from cluster.view import view_or_error


class _Store:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def all_leases(self) -> Any:
        raise self.error


def test_an_unforeseen_error_is_one_line_naming_its_type_once() -> None:
    """Found by review: the view's line was 'RuntimeError: RuntimeError: unforeseen' (the
    type written before `describe`, which names it already)."""
    view = view_or_error(_Store(RuntimeError("unforeseen\nsecond line")), None, LeaseSettings())
    assert view == {"error": "RuntimeError: unforeseen second line"}


def test_an_unavailable_store_is_its_own_sentence() -> None:
    view = view_or_error(_Store(LeaseStoreUnavailable("database down: timeout")), None,
                         LeaseSettings())
    assert view == {"error": "database down: timeout"}
