"""Correlation ids made without a system call (actors/correlation.py)."""

from __future__ import annotations

import multiprocessing
import re

from actors.correlation import new_correlation_id


def _child_ids(conn) -> None:  # noqa: ANN001 - a multiprocessing connection
    conn.send([new_correlation_id() for _ in range(100)])
    conn.close()


def test_ids_are_16_hex_digits_and_do_not_repeat():
    ids = [new_correlation_id() for _ in range(100_000)]
    assert all(re.fullmatch(r"[0-9a-f]{16}", i) for i in ids[:1000])
    assert len(set(ids)) == len(ids)
    # all 64 bits random, not 16 digits padded: with 32 random bits (mutation audit, helper
    # strat) the ids above repeat only about two times in three, and a journal of 100,000
    # decisions already expects one repeat, two decisions sharing one correlation id
    assert len({i[:8] for i in ids}) > len(ids) // 2


def test_a_forked_child_does_not_repeat_the_parents_ids():
    ctx = multiprocessing.get_context("fork")
    parent_end, child_end = ctx.Pipe()
    proc = ctx.Process(target=_child_ids, args=(child_end,))
    proc.start()
    child = parent_end.recv()
    proc.join(30)
    # without the reseed the child's generator state is the parent's: same ids, same order
    parent = [new_correlation_id() for _ in range(100)]
    assert proc.exitcode == 0
    assert not set(child) & set(parent)
