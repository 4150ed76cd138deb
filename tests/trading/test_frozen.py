"""`trading.frozen.replace` is `dataclasses.replace`: the same object (every field the very same
value, compared by identity, and equal reprs) for the states a real backtest builds, and the
standard function itself for every class where skipping `__init__` could differ."""

from __future__ import annotations

import dataclasses
from dataclasses import InitVar, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backtest import candles as C
from backtest import engine
from config.loader import load_settings
from trading import frozen
from trading.decision import Decision
from trading.model import SymbolState

DATA = Path(__file__).resolve().parents[1] / "data"


def _same(a: Any, b: Any) -> None:
    assert type(a) is type(b) and a is not b
    for f in dataclasses.fields(a):
        assert getattr(a, f.name) is getattr(b, f.name), f.name
    assert repr(a) == repr(b)


class States:
    """Every state a short real backtest commits (a `backtest.memory_repo.Forward`)."""

    def __init__(self) -> None:
        self.states: list[Any] = []

    def claim(self, symbol: str) -> int:
        return 1

    def commit(self, symbol: str, incarnation: int, before: Any, decision: Decision, *,
               correlation_id: str, created_at: float, store: Any) -> None:
        self.states += [before, decision.state]

    def record(self, *_: Any, **__: Any) -> None:
        return None


def test_the_states_of_a_real_backtest_replace_as_the_standard_function_does(
        tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text('[symbols]\nlist = ["ETHBTC/USDT:USDT"]\n[strategy]\nwindow = 40\n'
                      'entry_z = 1.5\nexit_z = 0.3\nmin_volatility_pct = 0.0\n'
                      '[risk]\norder_size_usdt = 100\n')
    lines = (DATA / "ETH_BTC-5m.csv").read_text().splitlines()[:1501]
    (tmp_path / "eth.csv").write_text("\n".join(lines) + "\n")
    seen = States()
    engine.run(load_settings(config), {"ETHBTC/USDT:USDT": C.load(tmp_path / "eth.csv")},
               forward=seen)
    states = [s for s in seen.states if isinstance(s, SymbolState)]
    assert len(states) > 200 and any(s.orders for s in states) and any(s.position for s in states)
    names = [f.name for f in dataclasses.fields(SymbolState)]
    for i, state in enumerate(states):
        other = states[(i * 7 + 3) % len(states)]  # values from another real state
        for name in (names[i % len(names)], names[(i + 5) % len(names)]):
            change = {name: getattr(other, name)}
            _same(frozen.replace(state, **change), dataclasses.replace(state, **change))
        _same(frozen.replace(state), dataclasses.replace(state))
        for order in state.orders + state.finished_orders:
            change = {"amount": order.amount + 1}
            _same(frozen.replace(order, **change), dataclasses.replace(order, **change))


@dataclass(frozen=True, slots=True, kw_only=True)
class Plain:
    a: int
    b: Decimal = Decimal(0)
    c: tuple[int, ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Child(Plain):
    d: str = "x"


@dataclass(frozen=True, slots=True)
class Checked:
    a: int

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("a must be >= 0")


@dataclass(frozen=True, slots=True)
class Derived:
    a: int
    twice: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "twice", self.a * 2)


@dataclass(frozen=True)
class NoSlots:
    a: int


@dataclass(slots=True)
class Mutable:
    a: int


@dataclass(frozen=True, slots=True)
class WithInitVar:
    a: int
    scale: InitVar[int] = 1


@dataclass(frozen=True, slots=True)
class Empty:
    pass


def test_plain_frozen_classes_take_the_fast_path_and_keep_every_field() -> None:
    assert frozen._maker_for(Plain) is not dataclasses.replace
    assert frozen._maker_for(Child) is not dataclasses.replace
    p = Plain(a=1, b=Decimal("2.50"), c=(1,))
    _same(frozen.replace(p, a=2), dataclasses.replace(p, a=2))
    ch = Child(a=1, d="y")
    three = Decimal(3)
    _same(frozen.replace(ch, b=three), dataclasses.replace(ch, b=three))
    with pytest.raises(TypeError):
        frozen.replace(p, nope=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        frozen.replace(p).a = 5  # type: ignore[misc]


@pytest.mark.parametrize("cls", [Checked, Derived, NoSlots, Mutable, WithInitVar, Empty])
def test_every_other_class_gets_the_standard_function(cls: type) -> None:
    assert frozen._maker_for(cls) is dataclasses.replace


def test_validation_in_post_init_still_runs() -> None:
    with pytest.raises(ValueError, match="a must be >= 0"):
        frozen.replace(Checked(1), a=-1)
    assert frozen.replace(Derived(2), a=5).twice == 10
