"""A venue's IP block outlives the process: Binance answered 429 with Retry-After, the bot
restarted inside that window (a crash, a worker restarted by its parent) and asked again at
once, which is the "failing to back off after a 429" that Binance turns into IP bans growing
from 2 minutes to 3 days. The block is kept in the data dir (exchange/venue_blocks.py) and a
budget built later for that venue and host starts blocked. A restart is a new process: here a
new budget registry (the process's) and a new gateway over the same data dir, against the real
ccxt class and the Binance emulator."""

from __future__ import annotations

import os
import stat

import pytest

from exchange.budget import BudgetRefused
from exchange.budget_venues import BudgetRegistry
from exchange.venue_blocks import FILE, VenueBlocks
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator


def positions_asked(emu) -> int:
    return len([r for r in emu.requests if r.path.endswith("positionRisk")])


def test_a_429_block_is_kept_across_a_restart(tmp_path):
    emu = start_emulator("binanceusdm")
    path = tmp_path / FILE
    try:
        first = make_gateway("binanceusdm", emu, tmp_path, fake=FakeTime(),
                             rate_limit_per_s=None, budgets=BudgetRegistry(VenueBlocks(path)))
        first.load_markets()
        emu.fail_next("/fapi/v3/positionRisk", status=429,
                      body={"code": -1003, "msg": "Too many requests"},
                      headers={"Retry-After": "120", "X-MBX-USED-WEIGHT-1M": "2401"})
        with pytest.raises(BudgetRefused, match=r"blocked by the venue for 1\d\ds more"):
            first.fetch_positions()  # a reconciliation read waits 30 s at most, not 120
        assert positions_asked(emu) == 1
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        # the process dies here; a new one starts on the same data dir
        restarted = make_gateway("binanceusdm", emu, tmp_path, fake=FakeTime(),
                                 rate_limit_per_s=None,
                                 budgets=BudgetRegistry(VenueBlocks(path)))
        with pytest.raises(BudgetRefused, match=r"blocked by the venue for 1\d\ds more"):
            restarted.fetch_positions()
        assert positions_asked(emu) == 1  # nothing went to the venue inside its window
        elsewhere = make_gateway("binanceusdm", emu, tmp_path / "other", fake=FakeTime(),
                                 rate_limit_per_s=None,
                                 budgets=BudgetRegistry(VenueBlocks(tmp_path / "other.json")))
        elsewhere.fetch_positions()  # a data dir that was never told is not blocked
        assert positions_asked(emu) == 2
    finally:
        emu.stop()


def test_a_block_that_ended_or_an_unreadable_file_blocks_nothing(tmp_path):
    now = [1_000.0]
    blocks = VenueBlocks(tmp_path / FILE, wall=lambda: now[0])
    blocks.note("binanceusdm", "fapi.binance.com", 30)
    assert 29.9 < blocks.remaining("binanceusdm", "fapi.binance.com") <= 30
    assert blocks.remaining("bybit", "api.bybit.com") == 0
    now[0] += 31
    assert blocks.remaining("binanceusdm", "fapi.binance.com") == 0
    (tmp_path / FILE).write_text("{not json")
    assert blocks.remaining("binanceusdm", "fapi.binance.com") == 0
    blocks.note("binanceusdm", "fapi.binance.com", 5)  # a damaged file is replaced
    assert blocks.remaining("binanceusdm", "fapi.binance.com") == 5


def test_a_block_is_never_believed_past_the_longest_ban_or_if_not_a_number(tmp_path):
    # found by review: '1e999' loaded as inf ("no request for inf s more" on every restart),
    # a 400-digit number raised OverflowError and the gateway could not be built at all
    path = tmp_path / FILE
    blocks = VenueBlocks(path, wall=lambda: 1_000.0)
    for text in ('{"binanceusdm h": 1e999}', '{"binanceusdm h": ' + "9" * 400 + "}",
                 '{"binanceusdm h": "soon"}', '[1, 2]'):
        path.write_text(text)
        assert blocks.remaining("binanceusdm", "h") in (0.0, 3 * 86400.0), text
    path.write_text('{"binanceusdm h": 1e999}')
    assert blocks.remaining("binanceusdm", "h") == 0.0  # inf is not a finite deadline
    blocks.note("binanceusdm", "h", float("inf"))  # a header of 'inf' is not kept
    blocks.note("binanceusdm", "h", 10 * 86400)
    assert blocks.remaining("binanceusdm", "h") == 3 * 86400.0


def test_a_block_another_worker_was_told_of_holds_here_within_a_second(tmp_path):
    """Worker processes of one data dir share the IP: one got Binance's 429 and kept the block
    in the file; the others learnt of it only from their own 429 (each one more 'failing to
    back off'). Now a budget reads its peers' blocks at most once a second. The peer is a real
    process writing the real file."""
    import subprocess
    import sys
    from pathlib import Path

    emu = start_emulator("binanceusdm")
    path = tmp_path / FILE
    fake = FakeTime()
    try:
        gateway = make_gateway("binanceusdm", emu, tmp_path, fake=fake, rate_limit_per_s=None,
                               budgets=BudgetRegistry(VenueBlocks(path)))
        gateway.load_markets()
        gateway.fetch_positions()
        assert positions_asked(emu) == 1
        from exchange.budget_venues import budget_host, limits_for
        venue = limits_for("binanceusdm", 50.0).venue  # the budget's key, as the gateway's
        host = budget_host(venue, emu.base_url)
        root = Path(__file__).resolve().parents[3]
        subprocess.run([sys.executable, "-c",
                        "import sys; from exchange.venue_blocks import VenueBlocks; "
                        "VenueBlocks(sys.argv[1]).note(sys.argv[2], sys.argv[3], 120)",
                        str(path), venue, host], cwd=root, check=True, timeout=60)
        fake.now += 1.5  # the next look at the peers' blocks is due
        with pytest.raises(BudgetRefused, match=r"blocked by the venue for 1\d\ds more"):
            gateway.fetch_positions()
        assert positions_asked(emu) == 1  # nothing went out inside the peer's window
    finally:
        emu.stop()


def test_a_shorter_block_noted_later_does_not_shorten_a_longer_one(tmp_path):
    """Two workers of one data dir share the IP: one was banned for 2 hours (a 418), the other
    then got a 429 with Retry-After 60. Kept as the later, shorter block, a restart after a
    minute asked again inside the ban: what Binance answers with a longer one."""
    now = [1_000.0]
    banned = VenueBlocks(tmp_path / FILE, wall=lambda: now[0])
    other = VenueBlocks(tmp_path / FILE, wall=lambda: now[0])  # the other worker's
    banned.note("binanceusdm", "fapi.binance.com", 7200)
    now[0] += 10
    other.note("binanceusdm", "fapi.binance.com", 60)
    now[0] += 61
    restarted = VenueBlocks(tmp_path / FILE, wall=lambda: now[0])
    assert restarted.remaining("binanceusdm", "fapi.binance.com") == 7200 - 71


def test_a_block_asked_past_the_longest_ban_ends_with_it(tmp_path):
    """A Retry-After of 10 days is kept as 3 (MAX_BLOCK_S, Binance's longest ban) and the
    block runs out after those 3: it was capped only when read, against the reader's own
    clock, so it stayed '3 days more' for all 10."""
    now = [1_000.0]
    blocks = VenueBlocks(tmp_path / FILE, wall=lambda: now[0])
    blocks.note("binanceusdm", "fapi.binance.com", 10 * 86400)
    now[0] += 86400
    assert blocks.remaining("binanceusdm", "fapi.binance.com") == 2 * 86400
    now[0] += 2 * 86400
    assert blocks.remaining("binanceusdm", "fapi.binance.com") == 0


def test_a_deadline_in_the_file_far_out_is_believed_only_up_to_the_longest_ban(tmp_path):
    """A deadline a month out (written while the wall clock ran a month ahead, then corrected;
    a hand edit) blocked the venue for that month: it is believed for 3 days at most."""
    path = tmp_path / FILE
    path.write_text('{"binanceusdm fapi.binance.com": %r}' % (1_000.0 + 30 * 86400))
    blocks = VenueBlocks(path, wall=lambda: 1_000.0)
    assert blocks.remaining("binanceusdm", "fapi.binance.com") == 3 * 86400


def test_a_block_of_one_api_host_does_not_block_another(tmp_path):
    """The block is per venue and API host: a ban of the testnet's host (a demo account of the
    same data dir) does not stop the live account's requests to the real one."""
    blocks = VenueBlocks(tmp_path / FILE, wall=lambda: 1_000.0)
    blocks.note("binanceusdm", "testnet.binancefuture.com", 600)
    assert blocks.remaining("binanceusdm", "testnet.binancefuture.com") == 600
    assert blocks.remaining("binanceusdm", "fapi.binance.com") == 0
