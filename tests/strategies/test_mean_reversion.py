"""The default strategy, `strategies/mean_reversion.py`, against values computed by hand.

Windows are chosen so every statistic is exact in binary floating point: for the window
100, 100, 100, 100, 90 the mean is 98, the population variance (4 * 2^2 + 8^2) / 5 = 16, the
standard deviation 4 and the z-score of the last price (90 - 98) / 4 = -2.0; its one-step returns
in percent are 0, 0, 0, -10 (mean -2.5), whose sample standard deviation
sqrt((3 * 2.5^2 + 7.5^2) / 3) = 5.0 is the volatility the filter compares.
"""

from __future__ import annotations

import math
import random
from decimal import Decimal

import pytest

from strategies.mean_reversion import MeanReversion
from trading.events import SignalRaised
from trading.model import Side

D = Decimal
DIP = ["100", "100", "100", "100", "90"]  # z = -2.0, volatility 5.0 %
SPIKE = ["100", "100", "100", "100", "110"]  # z = +2.0, volatility 5.0 %
BACK = ["90", "100", "100", "100", "100"]  # z = +0.5 (mean 98, std 4)


def strategy(**overrides) -> MeanReversion:
    args: dict = {"window": 5, "entry_z": 2.0, "exit_z": 0.5, "min_volatility_pct": 0.0,
                  "min_volume": 0.0, "allow_short": True}
    return MeanReversion(**(args | overrides))


def feed(s: MeanReversion, prices: list[str], position: Side | None = None,
         volume: Decimal | None = None) -> list[SignalRaised | None]:
    return [s.on_price(D(p), volume, 1000.0 + i, position) for i, p in enumerate(prices)]


def test_hand_computed_statistics():
    s = strategy()
    feed(s, DIP)
    assert s.zscore() == -2.0
    assert s.volatility_pct() == 5.0
    s = strategy()
    feed(s, BACK)
    assert s.zscore() == 0.5


def test_long_entry_at_exactly_entry_z_below_the_mean():
    assert feed(strategy(), DIP)[-1] == SignalRaised(side=Side.LONG, reason="z=-2.00")
    assert feed(strategy(entry_z=2.0001), DIP)[-1] is None


def test_short_entry_at_exactly_entry_z_above_the_mean():
    assert feed(strategy(), SPIKE)[-1] == SignalRaised(side=Side.SHORT, reason="z=2.00")
    assert feed(strategy(entry_z=2.0001), SPIKE)[-1] is None


def test_allow_short_false_never_shorts_but_still_goes_long():
    assert feed(strategy(allow_short=False), SPIKE) == [None] * 5
    assert feed(strategy(allow_short=False), DIP)[-1] == SignalRaised(side=Side.LONG,
                                                                       reason="z=-2.00")
    # with a position, allow_short does not matter: the exit is the same for both sides
    assert feed(strategy(allow_short=False), BACK, position=Side.SHORT)[-1] == SignalRaised(
        side=None, reason="mean_reverted")


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
def test_exit_once_the_zscore_is_back_within_exit_z(side):
    assert feed(strategy(exit_z=0.5), BACK, position=side)[-1] == SignalRaised(
        side=None, reason="mean_reverted")
    assert feed(strategy(exit_z=0.4999), BACK, position=side)[-1] is None


def test_no_entry_signal_while_a_position_is_open():
    """Far from the mean with a position: neither a second entry nor an exit."""
    assert feed(strategy(), DIP, position=Side.LONG) == [None] * 5
    assert feed(strategy(), SPIKE, position=Side.SHORT) == [None] * 5


def test_window_warm_up_gives_no_signal_until_the_window_is_full():
    s = strategy(window=5, entry_z=0.1)
    out = feed(s, ["100", "50", "150", "20"])  # wild, but only 4 of 5 prices
    assert out == [None] * 4 and s.zscore() is None
    assert feed(s, ["100"]) != [None]  # the fifth price fills the window


def test_window_rolls_the_oldest_price_out():
    """A price older than the window no longer counts: 50 then DIP equals DIP alone."""
    s = strategy()
    out = feed(s, ["50"] + DIP)
    assert s.zscore() == -2.0
    assert out[-1] == SignalRaised(side=Side.LONG, reason="z=-2.00")


def test_flat_market_gives_no_zscore_and_no_signal():
    s = strategy(entry_z=0.0001)
    assert feed(s, ["100"] * 12) == [None] * 12
    assert s.zscore() is None  # zero deviation: no division by zero, no signal


@pytest.mark.parametrize("floor, signals", [(0.0, True), (5.0, True), (5.0001, False)])
def test_min_volatility_pct_filters_entries(floor, signals):
    out = feed(strategy(min_volatility_pct=floor), DIP)[-1]
    assert (out == SignalRaised(side=Side.LONG, reason="z=-2.00")) is signals
    out = feed(strategy(min_volatility_pct=floor), SPIKE)[-1]
    assert (out == SignalRaised(side=Side.SHORT, reason="z=2.00")) is signals


def test_min_volatility_pct_does_not_hold_an_exit_back():
    s = strategy(min_volatility_pct=50.0)
    assert feed(s, BACK, position=Side.LONG)[-1] == SignalRaised(side=None,
                                                                 reason="mean_reverted")


@pytest.mark.parametrize("volume, enters", [(None, True), (D("1000"), True), (D("999.99"), False),
                                            (D("0"), False)])
def test_min_volume_filters_entries(volume, enters):
    out = feed(strategy(min_volume=1000.0), DIP, volume=volume)[-1]
    assert (out is not None) is enters
    if enters:
        assert out == SignalRaised(side=Side.LONG, reason="z=-2.00")


def test_min_volume_does_not_hold_an_exit_back():
    out = feed(strategy(min_volume=1000.0), BACK, position=Side.LONG, volume=D("0"))
    assert out[-1] == SignalRaised(side=None, reason="mean_reverted")


def test_decimal_inputs_of_any_scale():
    """Decimal prices with many places and tiny or huge magnitudes give the same z-score as
    the integer window scaled (the z-score is scale-free)."""
    for scale in (D("0.00000001"), D("0.0173"), D("65432.1"), D("1E+6")):
        s = strategy(entry_z=1.99)  # scaled, -2.0 is only -2.0 to ~1e-12
        for i, p in enumerate(DIP):
            sig = s.on_price(D(p) * scale, D("5E+9"), float(i), None)
        z = s.zscore()
        assert z is not None and math.isclose(z, -2.0, rel_tol=1e-9), (scale, z)
        assert math.isclose(s.volatility_pct(), 5.0, rel_tol=1e-9)
        assert sig is not None and sig.side is Side.LONG


def test_long_run_rolling_sums_agree_with_a_fresh_window():
    """The rolling sums are updated incrementally; after 20,000 BTC-sized prices the z-score
    must still be what a strategy that saw only the last window computes."""
    rng = random.Random(3)
    price, s = 60_000.0, strategy(window=40, entry_z=2.0, exit_z=0.3)
    history: list[str] = []
    for i in range(20_000):
        price += rng.gauss(0, 5)
        p = f"{price:.1f}"
        history.append(p)
        s.on_price(D(p), None, float(i), None)
    fresh = strategy(window=40, entry_z=2.0, exit_z=0.3)
    feed(fresh, history[-40:])
    z, z_fresh = s.zscore(), fresh.zscore()
    assert z is not None and z_fresh is not None
    assert math.isclose(z, z_fresh, rel_tol=1e-6, abs_tol=1e-6), (z, z_fresh)


def test_the_inlined_update_is_bit_identical_to_push_and_zscore():
    """on_price inlines `_push` and `zscore` for speed: over a long random walk (with flat
    stretches, where the variance rounds to zero or below) its sums, every z-score and so
    every signal are exactly those of the plain methods."""
    rng = random.Random(5)
    price, fast, plain = 30_000.0, strategy(window=40), strategy(window=40)
    signals = 0
    for i in range(30_000):
        price += 0.0 if (i // 500) % 4 == 3 else rng.gauss(0, 4)
        p = D(f"{price:.1f}")
        got = fast.on_price(p, None, float(i), None)
        plain._push(float(p))
        assert (fast._sum, fast._sumsq, list(fast._prices)) == (
            plain._sum, plain._sumsq, list(plain._prices))
        z = plain.zscore()
        assert (got is not None) == (z is not None and abs(z) >= 2.0
                                     and plain.volatility_pct() >= 0.0)
        if got is not None:
            assert z is not None and got.reason == f"z={z:.2f}"
            signals += 1
    assert signals > 100


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
def test_a_position_exits_when_the_window_goes_flat(side):
    """With a position, a window of one price (zero variance) is at its mean: the exit is
    signalled. It returned None there (no z-score), so with exit_z below sqrt(1/(window-1))
    (here 0.5: 0.1 < 0.5) the last z before the flat window (0.5) never came within exit_z
    and a position held through a flat stretch was never exited by the strategy."""
    s = strategy(exit_z=0.1)
    out = feed(s, [*DIP, "100", "100", "100", "100", "100"], position=side)
    assert out[-2] is None  # four 100s and a 90: z = 0.5, not within 0.1
    assert out[-1] == SignalRaised(side=None, reason="mean_reverted")


@pytest.mark.parametrize("volume", [D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity")])
def test_a_volume_that_is_not_a_number_never_passes_the_volume_filter(volume):
    """A garbled 24 h volume (a venue's "NaN", which the ticker readers keep as Decimal NaN)
    passed `min_volume`: NaN compares False with everything, so `volume < min_volume` was False
    and the strategy entered on a volume nobody knows. A signalling NaN raised in `float()`, so
    every price crashed the symbol's actor (the stream reader keeps the last volume for later
    tickers: a crash loop up to the emergency close). Now it is not enough volume, and exits
    are not held back."""
    assert feed(strategy(min_volume=1000.0), DIP, volume=volume) == [None] * 5
    out = feed(strategy(min_volume=1000.0), BACK, position=Side.LONG, volume=volume)
    assert out[-1] == SignalRaised(side=None, reason="mean_reverted")


@pytest.mark.parametrize("volume", [D("NaN"), D("sNaN")])
def test_with_the_volume_filter_off_a_garbled_volume_changes_nothing(volume):
    assert feed(strategy(min_volume=0.0), DIP, volume=volume)[-1] == SignalRaised(
        side=Side.LONG, reason="z=-2.00")


@pytest.mark.parametrize("bad", ["Infinity", "-Infinity", "NaN", "sNaN", "0", "-5", "1E+200"])
def test_a_price_that_is_not_a_price_is_skipped_and_does_not_poison_the_window(bad):
    """The running sums outlive the window: one infinite price made them inf, then NaN
    (inf - inf) for good, and from then on every price raised a SHORT entry "z=nan" (NaN passes
    every `<` filter) and a position was never exited by the strategy (a huge finite price did
    the same through its square; a signalling NaN raised in `float()`). A price no market
    trades at is skipped: the strategy goes on as if it never came."""
    s, fresh = strategy(), strategy()
    before = feed(s, ["100", "100", "100"])
    assert s.on_price(D(bad), None, 0.0, None) is None
    assert before + feed(s, ["100", "90"]) == feed(fresh, ["100", "100", "100", "100", "90"])
    assert s.zscore() == fresh.zscore() == -2.0
    out = feed(s, BACK, position=Side.LONG)
    assert out[-1] == SignalRaised(side=None, reason="mean_reverted")


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
def test_exit_z_zero_means_the_strategy_never_exits(side):
    """exit_z = 0 is how a config says "no strategy exits" (examples/signal_waves.toml: no
    strategy of its own, positions come from signals and leave by their stop, trailing stop,
    take-profit or an exit signal; the paper-server test relies on it too). Found by review: a
    window gone flat (a quiet symbol whose price did not move for `window` polls) or a price
    exactly at its mean still signalled 'mean_reverted' and closed the signal's position."""
    s = strategy(exit_z=0.0)
    assert feed(s, ["100"] * 7, position=side) == [None] * 7  # flat window
    s = strategy(exit_z=0.0)
    assert feed(s, ["90", "110", "90", "110", "100"], position=side)[-1] is None  # z == 0
    assert s.zscore() == 0.0
    # entries are unchanged
    assert feed(strategy(exit_z=0.0), DIP)[-1] == SignalRaised(side=Side.LONG, reason="z=-2.00")
