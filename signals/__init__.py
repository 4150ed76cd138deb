"""External signal receiver: an HTTP endpoint and a WebSocket client that route JSON signals to
the symbol actors' mailboxes through one `SignalRouter` (validation, dedup, limits, journal)."""

from signals.backoff import Backoff
from signals.http_server import SignalHttpServer
from signals.limits import OpenPositionGate, WaveLimiter
from signals.model import Outcome, SignalRequest
from signals.router import SignalRouter
from signals.wiring import SignalsConfig, SignalServices, build_signal_services
from signals.ws_client import SignalWebSocketClient

__all__ = [
    "Backoff",
    "OpenPositionGate",
    "Outcome",
    "SignalHttpServer",
    "SignalRequest",
    "SignalRouter",
    "SignalServices",
    "SignalWebSocketClient",
    "SignalsConfig",
    "WaveLimiter",
    "build_signal_services",
]
