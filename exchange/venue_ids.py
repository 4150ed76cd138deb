"""ccxt ids the bot refuses, naming the id to use instead (read by the config check at load and
by the gateway): ccxt's `binance` trades USDⓈ-M perpetuals through the same endpoints, but
reads the spot wallet and spot open orders by default, and the gateway's Binance handling (the
algo stop book for lookups and cancels, the row keys in convert.py) is `binanceusdm`'s: taken as
a generic venue, a stop was never found by its client id and a cancel of it answered 'not found'
while it rested."""

USE_INSTEAD = {"binance": "binanceusdm"}
