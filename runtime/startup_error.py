"""StartupError on its own, so the command line can catch it without importing the wiring
(the strategies, the decision core and the exchange port: half of `bot.py status`'s start)."""


class StartupError(Exception):
    """A problem that stops the bot from starting; the message is the one line users see."""
