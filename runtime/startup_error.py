"""StartupError on its own, so the command line can catch it without importing the wiring
(the strategies, the decision core and the exchange port: half of `bot.py status`'s start)."""

from config.errors import ConfigError


class StartupError(Exception):
    """A problem that stops the bot from starting; the message is the one line users see."""


class StartupConfigError(ConfigError, StartupError):
    """A start refused for what the config file says (a cluster node's checks of two keys): the
    command line names the file and the key's line, as for the loader's own problems (found
    by review: `storage.url: cluster nodes must share ...` named neither)."""
