"""The hedge grid: a long and a short leg on one symbol (exchange hedge mode), averaging at grid
levels, a take-profit and a stop per leg. Pure like `trading/decide.py`: the decision loop
(`actors/loop.py`, through `actors/cores.py`) commits each decision before executing its
commands."""
