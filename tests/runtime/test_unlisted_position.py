"""Rule 2: a position stays tracked until the exchange says it is closed. A symbol taken off
symbols.list while storage held its open position was started by nobody: no actor, no stop duty,
no close, not in the status dump, not counted by max_open_positions. Now the start is refused in
one line naming the symbol; a symbol taken off the list while flat is no obstacle.

Real parts: pykka actors, the supervisor, SQLite and the paper exchange (the harness) for the
position, then `python bot.py run` as a subprocess on the same data dir."""

from __future__ import annotations

from pathlib import Path

from storage import queries
from tests.actors.test_entry_gate import SYMBOLS, enter, open_symbols
from tests.e2e.bot_process import start_bot, write_config
from tests.support.harness import Harness
from trading.model import Side


def test_a_symbol_taken_off_the_list_while_it_holds_a_position_is_refused(tmp_path: Path):
    a, b, c = SYMBOLS[:3]
    h = Harness(tmp_path, [a, b, c]).start()
    try:
        h.poll()
        enter(h, a)
        assert set(open_symbols(h.paper)) == {a}
        assert h.signal(c, Side.LONG)  # c opens and is closed again: flat, a row in storage
        h.idle(c)
        assert h.signal(c, None)
        h.idle(c)
        assert h.view(c).phase == "flat"
        assert h.repo.read(queries.unlisted_holdings, [b]) == {a: 1}
        assert h.repo.read(queries.unlisted_holdings, [a, b]) == {}  # c: flat, not held
    finally:
        h.stop()

    config = write_config(tmp_path / "b_only.toml", [b], logging={"console": False})
    proc = start_bot(config, tmp_path)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-2000:]
    # the file and the line of the key to change, as the loader's refusals (found by review)
    assert lines[0].startswith(f"bot.py: error: {config}:2: symbols.list: "), lines[0]
    assert a in lines[0], lines[0]
    assert c not in lines[0] and "Traceback" not in err
