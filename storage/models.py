"""Peewee models. `storage/` is the only package that imports peewee.

Every per-symbol read and write goes through an index on `symbol` (or the primary key), never a
scan of all positions (incident 6). Decimals are stored as text so no float ever touches money.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import peewee as pw


class RoutingDatabaseProxy(pw.DatabaseProxy):
    """The models' database: a default (the last opened one, as with peewee's own proxy) that a
    thread can point at another database for a while (``using``) or for its life (``bind_thread``).

    Several accounts run in one process, each with its own SQLite file (or PostgreSQL schema):
    every Repository routes its reads and its writer thread to its own database, so one
    account's rows never land in another's.
    """

    __slots__ = ("_default", "_local")

    def __init__(self) -> None:
        object.__setattr__(self, "_local", threading.local())
        object.__setattr__(self, "_default", None)
        super().__init__()

    def __setattr__(self, attr: str, value: object) -> None:
        object.__setattr__(self, attr, value)

    @property
    def obj(self) -> pw.Database | None:
        return getattr(self._local, "db", None) or self._default

    @obj.setter
    def obj(self, value: pw.Database | None) -> None:
        object.__setattr__(self, "_default", value)

    def bind_thread(self, db: pw.Database | None) -> None:
        """Route this thread's model queries to ``db`` (None: back to the default)."""
        self._local.db = db

    @contextmanager
    def using(self, db: pw.Database) -> Iterator[None]:
        """Route this thread's model queries to ``db`` inside the block."""
        previous = getattr(self._local, "db", None)
        self._local.db = db
        try:
            yield
        finally:
            self._local.db = previous


database_proxy = RoutingDatabaseProxy()

SCHEMA_VERSION = 7


class DecimalText(pw.TextField):
    """Decimal stored as its exact string; read back as text and parsed by the repository, so
    a corrupt value surfaces as a named field error instead of a crash inside peewee."""


class Seconds(pw.DoubleField):
    """A time in epoch seconds. DOUBLE, not FLOAT: peewee's FloatField is PostgreSQL's 4-byte
    REAL, which rounds today's epoch seconds to minutes; SQLite's DDL is REAL either way."""


class BaseModel(pw.Model):
    class Meta:
        database = database_proxy
        legacy_table_names = False


class Meta(BaseModel):
    key = pw.CharField(primary_key=True)
    value = pw.TextField()


class ActorStateRow(BaseModel):
    symbol = pw.CharField(primary_key=True)
    incarnation = pw.IntegerField(default=0)
    phase = pw.CharField(default="flat")
    order_seq = pw.IntegerField(default=0)
    cooldown_until = Seconds(default=0.0)
    close_attempts = pw.IntegerField(default=0)
    next_close_at = Seconds(null=True)
    close_reason = pw.TextField(null=True)
    last_close_error = pw.TextField(null=True)
    needs_stop = pw.BooleanField(default=False)
    stop_price = DecimalText(null=True)
    take_profit_price = DecimalText(null=True)
    quarantined = pw.BooleanField(default=False)
    quarantine_reason = pw.TextField(null=True)
    restarts = pw.IntegerField(default=0)
    updated_at = Seconds(default=0.0)
    fees_owed = pw.TextField(null=True)
    """Ended orders whose fee the venue has not told yet (trading/late_fees.py), as a JSON list
    (storage/grid_codec.py `owed_data`); NULL: none (schema 4)."""

    class Meta:
        table_name = "actor_state"


TRADES_ORDER = ("status", "closed_at", "position_id")
"""The closed positions newest first (storage/reports.py `trades`), as the schema 6 indexes
hold them."""


class PositionRow(BaseModel):
    position_id = pw.CharField(primary_key=True)
    symbol = pw.CharField(index=True)
    side = pw.CharField()
    contracts = DecimalText()
    entry_price = DecimalText()
    opened_at = Seconds()
    closed_at = Seconds(null=True)
    status = pw.CharField(default="open")
    realized_pnl = DecimalText(default="0")
    fees = DecimalText(default="0")
    close_reason = pw.TextField(null=True)

    class Meta:
        table_name = "positions"
        # schema 6: the recent trades (the dashboard's, every 5 s per open page; of one symbol
        # too: storage/reports.py `trades`) walk the newest closed rows in index order instead
        # of reading and sorting every position the account (the symbol) ever had
        indexes = ((("symbol", "status"), False), (TRADES_ORDER, False),
                   (("symbol", *TRADES_ORDER), False))


class TrailingStopRow(BaseModel):
    symbol = pw.CharField(primary_key=True)
    position_id = pw.CharField()
    state = pw.CharField()
    activation_price = DecimalText()
    callback_pct = DecimalText()
    best_price = DecimalText(null=True)
    trigger_price = DecimalText(null=True)

    class Meta:
        table_name = "trailing_stops"


class OrderRow(BaseModel):
    client_order_id = pw.CharField(primary_key=True)
    symbol = pw.CharField()
    position_id = pw.CharField(null=True)
    purpose = pw.CharField()
    side = pw.CharField()
    amount = DecimalText()
    stop_price = DecimalText(null=True)
    reduce_only = pw.BooleanField(default=False)
    status = pw.CharField()
    exchange_id = pw.CharField(null=True)
    filled = DecimalText(default="0")
    average = DecimalText(null=True)
    fee = DecimalText(default="0")
    replaces = pw.CharField(null=True)
    last_error = pw.TextField(null=True)
    created_at = Seconds()
    updated_at = Seconds()
    cancel_requested_at = Seconds(null=True)
    """When we asked the exchange to cancel the order (still live until confirmed); NULL: not
    asked, as in rows written before schema 7."""

    class Meta:
        table_name = "orders"
        indexes = ((("symbol", "status"), False),)


class FillRow(BaseModel):
    """The ledger: one row per confirmed fill, the only source of realized P&L."""

    id = pw.AutoField()
    symbol = pw.CharField(index=True)
    client_order_id = pw.CharField(index=True)
    position_id = pw.CharField(index=True)
    side = pw.CharField()
    amount = DecimalText()
    price = DecimalText()
    fee = DecimalText()
    realized_pnl = DecimalText()
    created_at = Seconds()

    class Meta:
        table_name = "fills"


class EventRow(BaseModel):
    """The journal. created_at: when it happened; recorded_at: when it was committed."""

    id = pw.AutoField()
    symbol = pw.CharField(index=True)
    type = pw.CharField()
    data = pw.TextField()
    correlation_id = pw.CharField(index=True)
    created_at = Seconds()
    recorded_at = Seconds()

    class Meta:
        table_name = "events"
        # a symbol's signal bookkeeping at every actor start (Repository.unhandled_signals)
        # without reading the symbol's whole journal (schema 3)
        indexes = ((("symbol", "type", "id"), False),)


class EscalationRow(BaseModel):
    id = pw.AutoField()
    symbol = pw.CharField(index=True)
    reason = pw.TextField()
    attempts = pw.IntegerField()
    last_error = pw.TextField(null=True)
    created_at = Seconds()
    resolved_at = Seconds(null=True, index=True)
    """Indexed (schema 5): every status round reads the unresolved ones (queries.py
    `open_escalations`), and the table is never pruned."""

    class Meta:
        table_name = "escalations"


class ControlRow(BaseModel):
    """Requests from the command line to the running bot (resume, manual signal). The bot applies
    pending rows each heartbeat (and at start), then marks them done."""

    id = pw.AutoField()
    command = pw.CharField()
    symbol = pw.CharField()
    args = pw.TextField(default="{}")
    created_at = Seconds()
    done_at = Seconds(null=True, index=True)
    result = pw.TextField(null=True)

    class Meta:
        table_name = "control"


class GridStateRow(BaseModel):
    """A hedge-grid symbol's state (two legs and their live orders) as one JSON document,
    written in the same transaction as its journal and ledger (storage/grid_codec.py)."""

    symbol = pw.CharField(primary_key=True)
    data = pw.TextField()
    updated_at = Seconds()

    class Meta:
        table_name = "grid_state"


ALL_MODELS = [
    GridStateRow,
    ControlRow,
    Meta,
    ActorStateRow,
    PositionRow,
    TrailingStopRow,
    OrderRow,
    FillRow,
    EventRow,
    EscalationRow,
]
