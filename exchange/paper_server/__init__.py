"""The paper exchange served over HTTP in Bybit v5's dialect, so several bot processes (on one
machine or several) trade against one shared simulated exchange through the real ccxt `bybit`
class with `urls['api']` pointed at it. Run: `python -m exchange.paper_server --port N
--store FILE` (see README, "Shared paper exchange")."""

from exchange.paper_server.app import build_app
from exchange.paper_server.auth import ApiKeys
from exchange.paper_server.bybit_api import BybitApi

__all__ = ["ApiKeys", "BybitApi", "build_app"]
