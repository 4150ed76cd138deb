"""Live exchange adapter: the `ExchangePort` over a real ccxt exchange.

Modules: `gateway` (CcxtGateway), `instances` (one ccxt instance per thread, shared markets,
shared rate limit), `rate_limit` (thread-safe token bucket), `markets_cache` (on-disk markets),
`order_params` (per-exchange order params table), `lookup` (find orders by client id),
`errors` (classify for retries; translate ccxt's exceptions into the port's), `secrets`
(credentials), `tickers` (LiveTickerSource for dry runs), `convert` (the one converter from
ccxt's dicts to the port's records), `stops` (place / move exchange stops).
"""
