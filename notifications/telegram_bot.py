"""The bot's Telegram side: alerts out to every allow-listed chat, and ``/status`` / ``/pause``
in from those chats only (``getUpdates`` long poll on its own thread).

Alerts always go (every kind in supervision.alerts.FORWARDED: escalation, kill switch,
protection tripped, unprotected position, takeover, worker escalation or hang, lost account lock,
status file not written), ahead of queued trade notices; trade notices only with
``notify_trades``. Commands from any other chat are ignored and logged with the chat id (escaped:
one update is one log line whatever it holds).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from notifications.outbox import Outbox
from notifications.secret import one_line
from notifications.sender import ALERT, NOTICE, REPLY, BackgroundSender, Outgoing
from notifications.telegram import SendFailed, TelegramApi
from supervision.alerts import FORWARDED, NOT_FORWARDED

HELP = "commands: /status (positions and P&L), /pause (stop new entries on every account)"
IGNORED_LINE_S = 60.0
"""Commands from a chat not allowed: one log line per chat per this many seconds at most, with
the count held back (found by review: a stranger sending /pause in a loop to the bot's public
username wrote a WARNING line per message, as long as they liked)."""
IGNORED_CHATS_KEPT = 256


class TelegramBot:
    def __init__(
        self,
        *,
        api: TelegramApi,
        chat_ids: tuple[int, ...],
        logger: Any,
        status_text: Callable[[], str],
        pause: Callable[[str], str],
        paused_before: Callable[[str, float], list[str]] | None = None,
        commands: bool = True,
        notify_trades: bool = False,
        poll_timeout_s: int = 25,
        retry_initial_s: float = 1.0,
        retry_max_s: float = 60.0,
        username: str | None = None,
        started_at: float | None = None,
        outbox: Outbox | None = None,
        log_every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api, self.chat_ids, self.log = api, tuple(chat_ids), logger
        self.status_text, self.pause = status_text, pause
        self.paused_before = paused_before
        """(by, since) -> the accounts holding a pause `by` queued since then: a /pause met
        again after a restart is answered by what the database holds."""
        self.commands, self.notify_trades = commands, notify_trades
        self.poll_timeout_s = poll_timeout_s
        self.sender = BackgroundSender(
            send=api.send_message,
            logger=logger,
            retry_initial_s=retry_initial_s,
            retry_max_s=retry_max_s,
            outbox=outbox,
            chats=self.chat_ids,
            log_every_s=log_every_s,
            clock=clock,
        )
        self._poll_retry = (retry_initial_s, max(retry_max_s, retry_initial_s))
        self._poll_failures = PollFailures(logger, log_every_s, clock)
        self.outbox = outbox
        """Keeps what is queued for Telegram across a kill (notifications/outbox.py)."""
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="telegram-commands", daemon=True)
        self._offset = self._kept_offset(outbox)
        self._bot_alerts: deque[Any] = deque(maxlen=64)
        """``bot_alert`` numbers already sent (runtime/runner.py hands a bot-wide alert to every
        account's Alerts, and each has this listener: with 3 accounts it went out 3 times,
        each naming an account it was not about; found by review)."""
        self._bot_alerts_lock = threading.Lock()
        self._ignored: dict[str, tuple[float, int]] = {}
        """Chat not allowed -> (when its last line was logged, commands ignored since)."""
        self.username = username
        """This bot's own username (getMe); learned by the poller when not given."""
        self.started_at = time.time() if started_at is None else started_at
        """A command dated before this (Telegram keeps updates up to 24 h, and the getUpdates
        offset is not kept across restarts) was sent while the bot was down: not carried out."""

    def _kept_offset(self, outbox: Outbox | None) -> int:
        """Where the last run's commands ended: Telegram hands an update again until a call
        confirms it, and a restart met the commands it had handled as new ones."""
        if outbox is None:
            return 0
        try:
            return outbox.offset()
        except Exception as exc:  # noqa: BLE001 - the commands are judged by their date then
            self.log.error("telegram: the commands' offset cannot be read ({})", exc)
            return 0

    def start(self) -> None:
        self.sender.start()
        if self.commands:
            self._poller.start()
        self.log.info("telegram: notifying {} chat(s)", len(self.chat_ids))

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self.sender.stop(timeout_s)
        if self._poller.is_alive():
            self._poller.join(1.0)  # a long poll in flight ends with its HTTP timeout; daemon
        # the outbox stays open: a send still in flight removes its row, and an alert raised
        # after this (the shutdown's own) is kept for the next start

    # -- out ---------------------------------------------------------------------------------------
    def on_alert(self, payload: dict[str, Any]) -> None:
        """An ``Alerts`` listener: never blocks (the sender thread does the network)."""
        kind = str(payload.get("kind"))
        if kind in NOT_FORWARDED or (kind == "trade" and not self.notify_trades):
            return  # a kind in neither set still goes: an alert is never lost by omission
        account = payload.get("account")
        once = payload.get("bot_alert")
        if once is not None:  # the whole bot's: once, under no account
            with self._bot_alerts_lock:
                if once in self._bot_alerts:
                    return
                self._bot_alerts.append(once)
            account = None
        where = " ".join(str(p) for p in (account, payload.get("symbol")) if p)
        text = f"{kind.upper()}{' ' + where if where else ''}: {payload.get('message')}"
        self.broadcast(text, kind, priority=NOTICE if kind == "trade" else ALERT)

    def broadcast(self, text: str, kind: str, *, priority: int | None = None) -> None:
        """``text`` to every chat; an alert kind goes before queued trade notices."""
        if priority is None:
            priority = ALERT if kind in FORWARDED else NOTICE
        for chat in self.chat_ids:
            self.sender.submit(Outgoing(chat_id=chat, text=text, kind=kind, priority=priority))

    # -- in ----------------------------------------------------------------------------------------
    def _poll(self) -> None:
        first, cap = self._poll_retry
        backoff = first
        while not self._stop.is_set():
            try:
                updates = self.api.get_updates(self._offset, self.poll_timeout_s)
                backoff = first
                self._poll_failures.answered()
            except Exception as exc:  # noqa: BLE001 - the poller must outlive any failure
                self._poll_failures.failed(exc, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, cap)
                continue
            before = self._offset
            for update in updates if isinstance(updates, list) else ():
                self._handle(update)
            if updates and self._offset == before:  # a reply we cannot move past: no busy loop
                self._stop.wait(backoff)
                backoff = min(backoff * 2, cap)

    def _handle(self, update: Any) -> None:
        """One update; a malformed one or a failing command is one log line, never fatal."""
        try:
            if not isinstance(update, dict):
                raise TypeError("update is not an object")
            self._offset = max(self._offset, int(update.get("update_id", 0)) + 1)
            message = update.get("message") or {}
            if not self._stop.is_set() and isinstance(message, dict):
                self._command(message)
        except Exception as exc:  # noqa: BLE001 - one bad update must not stop the commands
            self.log.warning("telegram: update skipped ({})", type(exc).__name__)
        if self.outbox is not None and not self._stop.is_set():
            # after its reply was kept (a kill between meets it again); once stopping, the
            # update was not carried out: the next start must meet it
            self.outbox.keep_offset(self._offset)

    def _command(self, message: dict[str, Any]) -> None:
        chat = (message.get("chat") or {}).get("id")
        text = str(message.get("text") or "").strip()
        if not text.startswith("/"):
            return
        if chat not in self.chat_ids:
            self._ignored_line(one_line(repr(chat), 100))
            return
        command, _, target = text.split()[0].partition("@")
        command = command.lower()
        if target and not self._mine(target):
            return  # `/pause@other_bot` in a group is another bot's command
        date = message.get("date")
        if isinstance(date, int) and not isinstance(date, bool) and date < int(self.started_at):
            # a /pause typed hours ago must not act now (found by review): said, not done
            sent = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(date))
            if command == "/pause" and self._paused_before_restart(int(chat), date, sent):
                return
            self.log.warning("telegram: {} from chat {} sent at {}, while the bot was down: not "
                             "carried out", one_line(command, 64), chat, sent)
            self.sender.submit(Outgoing(
                chat_id=int(chat), kind="reply", priority=REPLY,
                text=f"{one_line(command, 64)}: not carried out: sent while the bot was down "
                     f"(at {sent}); send it again if it is still wanted"))
            return
        try:
            if command == "/status":
                reply = self.status_text()
            elif command == "/pause":
                reply = self.pause(f"telegram chat {chat}")
            else:
                reply = HELP
        except Exception as exc:
            # a person acting in trouble must not read silence as done (a /status that fails
            # on a damaged status file was no reply at all: the bot looked dead from the phone)
            reason = one_line(f"{type(exc).__name__}: {exc}", 200)
            then = ("entries may not be paused; try again or use the dashboard"
                    if command == "/pause" else "see the dashboard or `bot.py status`")
            self.sender.submit(Outgoing(chat_id=int(chat), kind="reply", priority=REPLY,
                                        text=f"{command} FAILED ({reason}): {then}"))
            raise  # logged by _handle, as any failing update
        self.sender.submit(Outgoing(chat_id=int(chat), text=reply, kind="reply", priority=REPLY))

    def _paused_before_restart(self, chat: int, date: int, sent: str) -> bool:
        """A /pause dated before this start that the database holds: queued by the run that
        met it before a restart (killed before the next getUpdates confirmed it), so the
        restarted bot carries it out. Answered so (found by review: it was answered "not
        carried out" while the pause held); whether the lookup fails, said too."""
        if self.paused_before is None:
            return False
        by = f"telegram chat {chat}"
        try:
            accounts = self.paused_before(by, float(date))
        except Exception as exc:  # noqa: BLE001 - said, never silence
            reason = one_line(f"{type(exc).__name__}: {exc}", 200)
            text = (f"/pause (sent at {sent}, before a restart): whether it was carried out "
                    f"is not known ({reason}): see the dashboard or `bot.py status`")
        else:
            if not accounts:
                return False
            text = (f"/pause (sent at {sent}, before a restart): a pause from this chat was "
                    f"queued since then and is carried out on account(s) {', '.join(accounts)}; "
                    "not queued again")
        self.log.warning("telegram: {}", text)
        self.sender.submit(Outgoing(chat_id=chat, kind="reply", priority=REPLY, text=text))
        return True

    def _ignored_line(self, chat: str) -> None:
        """A command from a chat not allowed: logged, then one line per ``IGNORED_LINE_S`` with
        the count of those ignored meanwhile (the poller thread only)."""
        now = time.monotonic()
        last, held = self._ignored.get(chat, (None, 0))
        if last is not None and now - last < IGNORED_LINE_S:
            self._ignored[chat] = (last, held + 1)
            return
        self.log.warning("telegram: command from chat {} ignored (not in telegram.chat_ids){}",
                         chat, f"; {held} more ignored since the last line" if held else
                         f"; more from it: one line per {IGNORED_LINE_S:g} s at most")
        self._ignored.pop(chat, None)
        self._ignored[chat] = (now, 0)
        while len(self._ignored) > IGNORED_CHATS_KEPT:
            self._ignored.pop(next(iter(self._ignored)))

    def _mine(self, target: str) -> bool:
        """Whether a command addressed ``/cmd@target`` is this bot's (usernames compare
        case-insensitively). Unknown (getMe failed): taken as ours, as before."""
        if self.username is None:
            try:
                me = self.api.get_me()
                self.username = str(me["username"]) if isinstance(me, dict) else None
            except Exception as exc:  # noqa: BLE001 - no answer: the command is not lost
                self.log.warning("telegram: own username unknown ({}); taking /...@{} as ours",
                                 type(exc).__name__, one_line(target, 64))
                return True
        return self.username is None or target.lower() == self.username.lower()


class PollFailures:
    """The command poller's failures, logged as the sender's are: the first of a streak, then
    at most one line per ``every_s`` with the count, and one line when a poll answers again
    (found by review: a WARNING at every failed poll, one a minute for as long as Telegram was
    away, though the README promised the sender's rule for both)."""

    def __init__(self, log: Any, every_s: float, clock: Callable[[], float]) -> None:
        self.log, self.every_s, self.clock = log, every_s, clock
        self.streak = self.unlogged = 0
        self.last_line: float | None = None

    def failed(self, exc: Exception, wait: float) -> None:
        self.streak += 1
        self.unlogged += 1
        now = self.clock()
        if self.last_line is not None and now - self.last_line < self.every_s:
            return
        since = (f"; {self.unlogged} failed polls since the last line"
                 if self.last_line is not None else
                 f"; further failures: one line per {self.every_s:g}s at most")
        reason = exc if isinstance(exc, SendFailed) else type(exc).__name__
        self.log.warning("telegram: getUpdates failed (poll {}): {}; retrying in {:.3g}s{}",
                         self.streak, reason, wait, since)
        self.last_line, self.unlogged = now, 0

    def answered(self) -> None:
        if self.streak:
            self.log.info("telegram: getUpdates works again after {} failed polls", self.streak)
        self.streak = self.unlogged = 0
        self.last_line = None
