"""Client order ids derived from the persisted record: account, database tag, symbol, sequence.

Format `<account>-<tag>-<code>-<seq><purpose>` fits Bybit's orderLinkId (<= 36 chars) and
Binance's newClientOrderId (^[.A-Z:/a-z0-9_-]{1,36}$).
"""

from __future__ import annotations

import hashlib
import re

from trading.model import OrderPurpose

PURPOSE_LETTER = {
    OrderPurpose.ENTRY: "e",
    OrderPurpose.STOP: "s",
    OrderPurpose.CLOSE: "c",
    OrderPurpose.EMERGENCY: "x",
}

VALID = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")


def symbol_code(symbol: str) -> str:
    base = re.sub(r"[^A-Za-z0-9]", "", symbol.split("/")[0])[:5]
    digest = hashlib.sha1(symbol.encode()).hexdigest()[:3]
    return f"{base}{digest}"


def client_order_id(account: str, tag: str, symbol: str, seq: int, purpose: OrderPurpose) -> str:
    cid = f"{account}-{tag}-{symbol_code(symbol)}-{seq}{PURPOSE_LETTER[purpose]}"
    if not VALID.match(cid):
        raise ValueError(f"client order id {cid!r} is not valid for exchanges (max 36 chars)")
    return cid
