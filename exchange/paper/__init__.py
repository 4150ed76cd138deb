"""Paper exchange: a simulated linear-perpetuals exchange behind the ExchangePort."""

from exchange.paper.csv_prices import CsvPriceSource
from exchange.paper.exchange import PaperExchange
from exchange.paper.prices import GeneratorPriceSource, PriceSource

__all__ = ["CsvPriceSource", "GeneratorPriceSource", "PaperExchange", "PriceSource"]
