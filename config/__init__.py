"""Typed configuration: ``load_settings(path)`` -> frozen ``Settings`` or a one-line ConfigError."""

from config.errors import ConfigError
from config.loader import load_settings
from config.settings import KNOWN_STRATEGIES, Settings

__all__ = ["ConfigError", "KNOWN_STRATEGIES", "Settings", "load_settings"]
