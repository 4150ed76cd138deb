"""Rule 10: the client order id is assigned and persisted before the call, so any update can be
matched whenever it arrives. Every create_order the actor sends finds its order's row (that
client order id, status pending, its symbol and purpose) already committed in the bot's
database, read on the exchange side through a separate sqlite3 connection at the moment of the
call.

Real supervisor, actors, SQLite and paper exchange; the check runs inside an exchange wrapper
given to the harness's constructor."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.support.faulty_exchange import FaultyExchange, params_of
from tests.support.harness import Harness
from trading.model import Side

BTC = "BTC/USDT:USDT"


class RowAtSend:
    """A create_order hook that reads the order's committed row from the database file."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.seen: list[tuple[str, tuple | None]] = []

    def __call__(self, name: str, args: tuple, kwargs: dict) -> None:
        cid = params_of(args, kwargs).get("clientOrderId")
        con = sqlite3.connect(self.db, timeout=10)
        try:
            row = con.execute("SELECT status, symbol, purpose, side, amount FROM orders "
                              "WHERE client_order_id=?", (cid,)).fetchone()
        finally:
            con.close()
        self.seen.append((cid, row))


def test_every_order_row_is_committed_pending_before_create_order_is_called(tmp_path):
    fx: list[FaultyExchange] = []
    h = Harness(tmp_path, [BTC], wrap=lambda paper: fx.append(FaultyExchange(paper)) or fx[0],
                risk={"cooldown_after_loss_s": 0})
    hook = RowAtSend(tmp_path / "bot.sqlite")
    fx[0].before["create_order"] = hook
    h.start()
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)  # entry, then its stop
        h.idle(BTC)
        assert h.signal(BTC, None)  # the close
        h.idle(BTC)
        assert h.exchange_position(BTC) is None
    finally:
        h.stop()
    purposes = [row[2] for _, row in hook.seen if row is not None]
    assert len(hook.seen) >= 3 and {"entry", "stop", "close"} <= set(purposes), hook.seen
    for cid, row in hook.seen:
        assert cid and cid.startswith(f"main-{h.repo.id_tag}-"), cid
        assert row is not None, f"{cid}: no row in the database when create_order was called"
        status, symbol, *_ = row
        assert (status, symbol) == ("pending", BTC), (cid, row)
