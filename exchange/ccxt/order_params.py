"""Per-exchange order facts and a pure builder from port params to ccxt params.

Verified against ccxt 4.5.90's source (`bybit.create_order_request`,
`binance.create_order` / `create_order_request` / `fetch_order` / `cancel_order`):

bybit (linear swap), reduce-only stop-market:
  create_order(sym, 'market', side, qty, None, {'stopLossPrice': p, 'reduceOnly': True,
               'clientOrderId': cid})
  -> POST /v5/order/create {category: linear, orderType: Market, side, qty, triggerPrice: p,
     triggerDirection: 2 for a sell stop (falls to p) / 1 for a buy stop (rises to p),
     reduceOnly: true, orderLinkId: cid}. Hedge mode: 'hedged': True -> positionIdx 1 (long
     position) / 2 (short). Stops are in the same order lists (no flag needed); amend with
     edit_order(... {'triggerPrice': p}) -> POST /v5/order/amend.
binanceusdm, reduce-only stop-market (conditional orders use the algo API in 4.5.90):
  create_order(sym, 'market', side, qty, None, {'stopLossPrice': p, 'reduceOnly': True,
               'clientOrderId': cid})
  -> POST /fapi/v1/algoOrder {algoType: CONDITIONAL, type: STOP_MARKET, side, quantity,
     triggerPrice: p, reduceOnly: true, clientAlgoId: cid}. Hedge mode: 'hedged': True ->
     positionSide LONG/SHORT and reduceOnly dropped (Binance rejects it in hedge mode).
     Fetch/cancel with {'trigger': True} (+ 'clientOrderId' -> clientAlgoId) hit
     GET/DELETE /fapi/v1/algoOrder; open stops: GET /fapi/v1/openAlgoOrders. No amend for
     conditional orders: move = place new, then cancel old.

Explicit hedge-mode position side (port params positionIdx 0/1/2 or positionSide
'BOTH'/'LONG'/'SHORT', either spelling, any case) is sent in the venue's own vocabulary:
  bybit: positionIdx 0|1|2 (int) in the create request body; reduceOnly kept as given.
  binanceusdm: positionSide BOTH|LONG|SHORT on /fapi/v1/order and /fapi/v1/algoOrder; with
     LONG/SHORT reduceOnly is dropped (Binance rejects it in hedge mode: the side given with
     the opposite order side already only closes).
  other exchanges: passed through as given.
A side that contradicts the gateway's configured mode (1/2 in one-way, 0/BOTH in hedge) is
refused before sending with ccxt.InvalidOrder ("position idx not match position mode").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ccxt

PORT_CLIENT_ID = r"^[.A-Z:/a-z0-9_-]{1,36}$"


@dataclass(frozen=True)
class Venue:
    """What the gateway needs to know about one exchange beyond ccxt's `has`/`features`."""

    exchange_id: str
    client_id_pattern: str = PORT_CLIENT_ID
    stop_style: str | None = "stopLossPrice"  # 'stopLossPrice' | 'triggerPrice' | None
    trigger_flag: dict[str, Any] = field(default_factory=dict)  # marks a stop in fetch/cancel
    separate_trigger_book: bool = False  # stops live in their own book (Binance algo)
    amend_trigger: bool = False  # edit_order can move an untriggered stop's trigger price
    cancel_client_id_key: str = "clientOrderId"  # param name ccxt forwards for cancel by cid
    lookup: str = "generic"  # 'bybit' | 'binance' | 'generic' (see lookup.py)
    learned_options: tuple[str, ...] = ()  # ccxt options one instance learns, copied to others
    direction_by_type: bool = False  # trigger direction is implied by STOP vs TAKE_PROFIT
    position_param: str | None = None  # 'positionIdx' (Bybit) | 'positionSide' (Binance)


VENUES: dict[str, Venue] = {
    "bybit": Venue(
        "bybit",
        client_id_pattern=r"^[A-Za-z0-9_-]{1,36}$",  # orderLinkId: letters, digits, - and _
        amend_trigger=True,
        cancel_client_id_key="orderLinkId",
        lookup="bybit",
        learned_options=("enableUnifiedMargin", "enableUnifiedAccount", "unifiedMarginStatus"),
        position_param="positionIdx",
    ),
    "binanceusdm": Venue(
        "binanceusdm",
        trigger_flag={"trigger": True},
        separate_trigger_book=True,
        lookup="binance",
        learned_options=("leverageBrackets",),
        direction_by_type=True,
        position_param="positionSide",
    ),
}


def venue_for(exchange_id: str, create_features: dict[str, Any] | None) -> Venue:
    """The table entry, or one derived from ccxt `features` for an exchange not in the table."""
    if exchange_id in VENUES:
        return VENUES[exchange_id]
    feats = create_features or {}
    if feats.get("stopLossPrice"):
        style: str | None = "stopLossPrice"
    elif feats.get("triggerPrice") and feats.get("triggerDirection"):
        style = "triggerPrice"
    else:
        style = None
    return Venue(exchange_id, stop_style=style)


def validate_client_order_id(venue: Venue, client_order_id: Any) -> str:
    """Raise ccxt.InvalidOrder unless the id fits both the port's and the exchange's rule."""
    cid = client_order_id
    if not isinstance(cid, str) or not re.fullmatch(PORT_CLIENT_ID, cid):
        raise ccxt.InvalidOrder(f"clientOrderId {cid!r} must match {PORT_CLIENT_ID}")
    if not re.fullmatch(venue.client_id_pattern, cid):
        raise ccxt.InvalidOrder(
            f"clientOrderId {cid!r} not accepted by {venue.exchange_id}: "
            f"must match {venue.client_id_pattern}"
        )
    return cid


def num(value: Any) -> Any:
    """Decimal -> str for ccxt params (ccxt's number_to_string/price_to_precision take str)."""
    return format(value, "f") if isinstance(value, Decimal) else value


def stop_params(
    venue: Venue, *, side: str, stop_price: str, client_order_id: str, hedge_mode: bool
) -> dict[str, Any]:
    """ccxt params for a reduce-only stop-market on `venue` (side = the closing side)."""
    if venue.stop_style == "stopLossPrice":
        params: dict[str, Any] = {"stopLossPrice": stop_price}
    elif venue.stop_style == "triggerPrice":
        direction = "descending" if side == "sell" else "ascending"
        params = {"triggerPrice": stop_price, "triggerDirection": direction}
    else:
        raise ccxt.NotSupported(f"{venue.exchange_id} cannot place a reduce-only stop-market")
    params["reduceOnly"] = True
    params["clientOrderId"] = client_order_id
    if hedge_mode:
        params["hedged"] = True
    return params


POSITION_IDX = {"0": 0, "1": 1, "2": 2}
IDX_BY_NAME = {"BOTH": 0, "LONG": 1, "SHORT": 2}
NAME_BY_IDX = {0: "BOTH", 1: "LONG", 2: "SHORT"}
MODE_MISMATCH = "position idx not match position mode"


def explicit_position_idx(params: dict[str, Any] | None) -> int | None:
    """positionIdx (0/1/2) or positionSide ('BOTH'/'LONG'/'SHORT', any case) as Bybit's idx;
    None when neither is given. Raises ccxt.InvalidOrder for other values or a disagreement."""
    params = params or {}
    by_idx = by_name = None
    raw_idx, raw_name = params.get("positionIdx"), params.get("positionSide")
    if raw_idx is not None:
        by_idx = None if isinstance(raw_idx, bool) else POSITION_IDX.get(str(raw_idx).strip())
        if by_idx is None:
            raise ccxt.InvalidOrder(f"positionIdx must be 0, 1 or 2, got {raw_idx!r}")
    if raw_name is not None:
        by_name = IDX_BY_NAME.get(raw_name.upper()) if isinstance(raw_name, str) else None
        if by_name is None:
            raise ccxt.InvalidOrder(
                f"positionSide must be 'BOTH', 'LONG' or 'SHORT', got {raw_name!r}")
    if by_idx is not None and by_name is not None and by_idx != by_name:
        raise ccxt.InvalidOrder(f"positionIdx {raw_idx!r} and positionSide {raw_name!r} disagree")
    return by_idx if by_idx is not None else by_name


def is_reducing(side: str, params: dict[str, Any] | None) -> bool:
    """True for an order that can only reduce: reduceOnly, a stop-loss, or (hedge mode) a sell
    on the long side / a buy on the short side."""
    params = params or {}
    if params.get("reduceOnly") or params.get("stopLossPrice") is not None:
        return True
    return closes_a_leg(side, explicit_position_idx(params))


def closes_a_leg(side: str, idx: int | None) -> bool:
    """In hedge mode, an order on a leg's closing side can only reduce: a sell of the long
    (positionIdx 1), a buy of the short (2)."""
    return (idx == 1 and side == "sell") or (idx == 2 and side == "buy")


def row_only_reduces(flag: Any, info: dict[str, Any], side: str) -> bool:
    """The venue's order row (`info`, ccxt's `reduceOnly` as `flag`) names an order that can
    only reduce: flagged reduce-only, a Binance closePosition order, or in hedge mode an order
    on a leg's closing side (a sell of the long, a buy of the short). Binance refuses the flag
    beside positionSide LONG / SHORT and lists such an order `reduceOnly: false`: read by the
    flag alone, a hedge grid's take-profit or a person's stop was taken for an order that could
    open a position (an orphan cancelled even while it was a bare leg's only stop; an emergency
    close stopped at one it could not cancel). Bybit's `closeOnTrigger` true is a closing order
    too (v5: it can only reduce; ccxt 4.5.90 reads `reduceOnly` alone and keeps the row as
    `info`): a person's conditional close listed with it and `reduceOnly: false` is one."""
    if any(str(v).lower() == "true" for v in (
            flag, info.get("closePosition", info.get("cp")), info.get("closeOnTrigger"))):
        return True
    name = str(info.get("positionSide", info.get("ps", ""))).upper()
    return closes_a_leg(side, POSITION_IDX.get(str(info.get("positionIdx", "")).strip())) or (
        closes_a_leg(side, IDX_BY_NAME.get(name)))


def _position_side(venue: Venue, out: dict[str, Any], *, hedge_mode: bool) -> None:
    """Check an explicit position side against the mode and rewrite it for the venue."""
    idx = explicit_position_idx(out)
    if idx is None:
        return
    if hedge_mode and idx == 0:
        raise ccxt.InvalidOrder(f"{venue.exchange_id}: {MODE_MISMATCH}: hedge mode needs "
                                "positionIdx 1 / 2 or positionSide 'LONG' / 'SHORT'")
    if not hedge_mode and idx != 0:
        raise ccxt.InvalidOrder(f"{venue.exchange_id}: {MODE_MISMATCH}: positionIdx {idx} / "
                                f"positionSide {NAME_BY_IDX[idx]} is for hedge mode, the gateway "
                                "is in one-way mode (exchange.hedge_mode = false)")
    if venue.position_param == "positionIdx":
        out.pop("positionSide", None)
        out["positionIdx"] = idx
    elif venue.position_param == "positionSide":
        out.pop("positionIdx", None)
        out["positionSide"] = NAME_BY_IDX[idx]
        if idx != 0:
            out.pop("reduceOnly", None)  # Binance hedge mode rejects reduceOnly


def translate(
    venue: Venue, side: str, params: dict[str, Any] | None, *, hedge_mode: bool
) -> dict[str, Any]:
    """Port params -> ccxt params: Decimals to str, hedge flag, and Binance's trigger
    direction (implied by STOP vs TAKE_PROFIT type) mapped onto stop/take-profit prices."""
    out = {key: num(value) for key, value in (params or {}).items()}
    if "stopLossPrice" in out:
        out.setdefault("reduceOnly", True)  # port meaning: a reduce-only stop-market
        if venue.stop_style == "triggerPrice":  # as `stop_params` places it on such a venue
            out["triggerPrice"] = out.pop("stopLossPrice")
            out["triggerDirection"] = "descending" if side == "sell" else "ascending"
    if venue.direction_by_type and "triggerPrice" in out and "triggerDirection" in out:
        direction = str(out.pop("triggerDirection")).lower()
        price = out.pop("triggerPrice")
        rising = direction in ("above", "ascending", "1")
        # STOP_MARKET: buy fires on a rise, sell on a fall; TAKE_PROFIT_MARKET the opposite.
        key = "stopLossPrice" if rising == (side == "buy") else "takeProfitPrice"
        out[key] = price
    explicit_side = out.get("positionIdx") is not None or out.get("positionSide") is not None
    if explicit_side:
        _position_side(venue, out, hedge_mode=hedge_mode)
    elif hedge_mode:
        out["hedged"] = True
    return out


def check_features(
    exchange_id: str, params: dict[str, Any], create_features: dict[str, Any] | None, has: dict
) -> None:
    """Raise ccxt.NotSupported if `params` asks for something ccxt says the exchange lacks."""
    feats = create_features or {}
    needs = {
        "stopLossPrice": feats.get("stopLossPrice"),
        "takeProfitPrice": feats.get("takeProfitPrice"),
        "triggerPrice": feats.get("triggerPrice"),
        "triggerDirection": feats.get("triggerDirection") or feats.get("triggerPrice"),
        "hedged": feats.get("hedged"),
        "reduceOnly": has.get("createReduceOnlyOrder") is not False,
    }
    for key, supported in needs.items():
        if key in params and params[key] not in (None, False) and not supported:
            raise ccxt.NotSupported(f"{exchange_id} createOrder does not support '{key}'")
    tif = params.get("timeInForce")
    if tif and feats.get("timeInForce") and not feats["timeInForce"].get(str(tif).upper()):
        raise ccxt.NotSupported(f"{exchange_id} createOrder does not support timeInForce {tif}")


def closes_impossible_reason(exchange_id: str, has: dict) -> str | None:
    """Why the bot cannot close a position on this venue (every close it sends, its own stop's
    and the emergency close included, is a reduce-only order), or None if it can."""
    if has.get("createReduceOnlyOrder") is False:
        return (f"{exchange_id} cannot send a reduce-only order (has.createReduceOnlyOrder is "
                "False): every close the bot sends is one, its own stop's close included")
    return None


def stop_impossible_reason(venue: Venue, create_features: dict | None) -> str | None:
    """Why a reduce-only exchange stop-market cannot be placed, or None if it can (a venue that
    cannot send reduce-only orders at all is refused before: `closes_impossible_reason`)."""
    feats = create_features or {}
    if venue.stop_style is None:
        return "features.createOrder has neither stopLossPrice nor triggerPrice+triggerDirection"
    if not feats.get(venue.stop_style):
        return f"features.createOrder.{venue.stop_style} is not supported"
    return None
