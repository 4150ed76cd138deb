"""Live exchange adapter: the `ExchangePort` over a real ccxt exchange.

Modules: `gateway` (CcxtGateway), `instances` (one ccxt instance per thread, shared markets,
shared rate limit), `rate_limit` (thread-safe token bucket), `markets_cache` (on-disk markets),
`order_params` (per-exchange order params table), `lookup` (find orders by client id),
`errors` (classify + OrderOutcomeUnknown), `secrets` (credentials), `tickers`
(LiveTickerSource for dry runs), `convert` (Decimal at the boundary).
"""
