"""What an account's start refuses before anything is sent: a database that holds another
venue's state, a position in storage for a symbol symbols.list no longer lists, and positions
kept in the other trading style's shape. Each is a StartupConfigError: one line naming the
config file and the line of the key to change (found by review: bare), exit 2."""

from __future__ import annotations

from config.settings import Settings
from runtime.startup_error import StartupConfigError
from storage import queries
from storage.repository import Repository

VENUE_KEY = "venue"
"""Meta key: where the account's state was traded (`venue_identity`)."""
STYLE_KEY = "trading_style"
"""Meta key: the trading style the account's stored state was written in (`style_of`)."""


def venue_identity(s: Settings) -> str:
    """Where an account trades, as the database records it: `paper`, `dry-run on bybit`, `live
    on bybit (sandbox)`. Simulated state never mixes with a live venue's."""
    if s.bot.mode == "paper":
        return "paper"
    ex = s.exchange
    place = " (sandbox)" if ex.sandbox else " (demo)" if ex.demo else ""
    return f"{s.bot.mode} on {ex.id}{place}"


def check_venue(repo: Repository, settings: Settings, name: str, config_key: str) -> None:
    """One database holds one venue's state. Switched from paper or dry-run to live with the
    same data dir, the live bot restored the simulated positions as real ones and sent stops
    for them to the venue; a different venue (or its sandbox) the same. The first run records
    where it trades; a run elsewhere is refused before anything is sent."""
    here = venue_identity(settings)
    stored = repo.get_meta(VENUE_KEY)
    if stored is None:
        repo.set_meta(VENUE_KEY, here)
    elif stored != here:
        raise StartupConfigError(
            f"{config_key}bot.mode / exchange.id: account {name}'s database holds the state of "
            f"{stored}, not {here}; give this one its own bot.data_dir (or storage.url) and keep "
            f"that one for {stored}")


def check_unlisted(repo: Repository, symbols: list[str], name: str, config_key: str) -> None:
    """Rule 2: a position stays tracked until the exchange says it is closed. A symbol taken off
    symbols.list while storage holds its position (or an entry in flight) would be started by
    nobody: no stop duty, no close, not in the status (storage/queries.unlisted_holdings)."""
    held = repo.read(queries.unlisted_holdings, symbols)
    if held:
        them = "it" if len(held) == 1 else "them"
        raise StartupConfigError(
            f"{config_key}symbols.list: account {name}'s storage holds an open position or an "
            f"entry in flight for {', '.join(held)}, which symbols.list no longer lists; list "
            f"{them} again so the bot manages {them} until flat (a position is never forgotten "
            "while the exchange may hold it)")


def style_of(s: Settings) -> str:
    """The trading style of a config: `hedge_grid` or `one_way` (every other strategy)."""
    return "hedge_grid" if s.strategy.name == "hedge_grid" else "one_way"


def check_style(repo: Repository, settings: Settings, name: str, config_key: str) -> None:
    """A symbol's state is stored in its style's shape (one-way: a position and its stop in
    actor_state; the hedge grid: two legs in grid_state). Switched with positions held, the new
    style misread them (found by review): a one-way position restored by the grid as a leg it
    never opened, or, grid to one-way, the old legs' rows left open and their stops cancelled as
    unowned. The first run records its style; a run in the other style is refused while the
    stored one holds anything (a position, an entry in flight, an unreadable state); once flat,
    the switch is allowed and recorded. A database from before this check records the style it
    is opened with (what it was written in cannot be told safely: both share the positions
    table)."""
    here = style_of(settings)
    stored = repo.get_meta(STYLE_KEY)
    if stored == here:
        return
    if stored is not None:
        held = repo.read(queries.style_holdings, stored == "hedge_grid")
        if held:
            strategy = '"hedge_grid"' if stored == "hedge_grid" else "a one-way strategy"
            raise StartupConfigError(
                f"{config_key}strategy.name: account {name}'s storage holds positions or "
                f"entries in flight traded in the {stored} style for {', '.join(held)}, and "
                f"this config trades {here}; the stored state would be misread, so keep "
                f"{strategy} until they are flat (or give {here} its own bot.data_dir or "
                "storage.url)")
    repo.set_meta(STYLE_KEY, here)
