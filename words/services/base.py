"""What every service shares: a realm mind that takes commands from private messages.

A service is a user of the realm like any other (NickServ, ChanServ), signed
on with a `ServiceBot` as its mind. A private message to it is a command; the
answer is a notice from it, so it works the same for every front end (IRC
now, the XMPP gateway later). Each command runs in a task (hashing and the
database are slow); one user's commands are answered in the order sent. A front
end that sets `answering` learns which tasks answer the command it is handling.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from words.store.database import StoreError

if TYPE_CHECKING:
    from words.realm import User, WordsRealm
    from words.realm.events import Said
    from words.services import Services

log = logging.getLogger("words.services")

# Set by a front end while it handles one of its user's commands: the tasks services start
# meanwhile (a command's reply) join this list, so the front end can send what they say
# to that user as the command's answer (IRC labeled-response).
answering: contextvars.ContextVar[list[asyncio.Task] | None] = contextvars.ContextVar(
    "answering", default=None)

Command = Callable[["User", list[str]], Awaitable[None]]


def when(stamp: float | None) -> str:
    """A timestamp as services show it."""
    if not stamp:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))


def disconnect(realm: WordsRealm, user: User, reason: str) -> None:
    """End `user`'s session: through its front end if it can close it, else in the realm.

    An IRC connection closes itself (ERROR to the client, QUIT to the others);
    a mind without `close` is only signed off.
    """
    close = getattr(user.mind, "close", None)
    if callable(close):
        close(reason)
    elif user.online:
        realm.sign_off(user, reason)


class ServiceBot:
    """The mind of one service user. Subclasses define `do_<COMMAND>(sender, args)` methods.

    The first line of each method's docstring is its HELP line
    (`SYNTAX: what it does`); the rest is shown by HELP <command>.
    """

    name = "Service"
    realname = "words service"

    def __init__(self, services: Services) -> None:
        self.services = services
        self.realm: WordsRealm = services.realm
        self.user: User | None = None
        self._locks: weakref.WeakKeyDictionary[User, asyncio.Lock] = weakref.WeakKeyDictionary()

    # -- life ---------------------------------------------------------------------------

    def sign_on(self) -> None:
        self.user = self.realm.sign_on(
            self.name, self, username="services", host=self.services.host, realname=self.realname
        )
        # A bot (WHOIS says so), and invisible: WHO and LUSERS are about people.
        self.realm.set_user_flags(self.user, [("bot", True), ("invisible", True)])

    def sign_off(self, reason: str = "Services shutting down") -> None:
        user, self.user = self.user, None
        if user is not None and user.mind is self:
            self.realm.sign_off(user, reason)

    # -- commands -----------------------------------------------------------------------

    def commands(self) -> dict[str, Command]:
        return {
            attr[3:]: getattr(self, attr) for attr in sorted(dir(type(self))) if attr.startswith("do_")
        }

    def reply(self, user: User, text: str) -> None:
        """A notice from this service to `user` (dropped if either went away)."""
        if self.user is not None and self.user.online and user.online:
            self.realm.say(self.user, user, text, kind="notice")

    async def dispatch(self, sender: User, text: str) -> None:
        words = text.split()
        if not words:
            return
        name, args = words[0].upper(), words[1:]
        handler = self.commands().get(name)
        if handler is None:
            self.reply(sender, f"Unknown command {name}. Send HELP for the list of commands.")
            return
        await handler(sender, args)

    async def do_HELP(self, sender: User, args: list[str]) -> None:
        """HELP [command]: the list of commands, or help on one."""
        commands = self.commands()
        if args:
            handler = commands.get(args[0].upper())
            if handler is None:
                self.reply(sender, f"No help for {args[0]}: no such command.")
                return
            for line in (handler.__doc__ or "").strip().splitlines():
                if line.strip():
                    self.reply(sender, line.strip())
            return
        self.reply(sender, f"{self.name} commands (send HELP <command> for more):")
        for handler in commands.values():
            self.reply(sender, "  " + (handler.__doc__ or "").strip().splitlines()[0])

    def usage(self, sender: User, name: str) -> None:
        handler = self.commands()[name]
        syntax = (handler.__doc__ or name).strip().splitlines()[0].split(":", 1)[0]
        self.reply(sender, f"Syntax: {syntax}")

    def _run(self, sender: User, text: str) -> None:
        lock = self._locks.get(sender)
        if lock is None:
            lock = self._locks[sender] = asyncio.Lock()
        self.services.spawn(self._serve(lock, sender, text))

    async def _serve(self, lock: asyncio.Lock, sender: User, text: str) -> None:
        async with lock:  # one user's commands are answered in order
            try:
                await self.dispatch(sender, text)
            except StoreError as exc:
                # The database is away (or refused): say so, rather than a vague sorry.
                log.error("%s could not serve %s: %s", self.name, sender.name, exc)
                self.reply(sender, "That needs the database, which is unavailable right now; "
                                   "nothing was changed. Try again later.")
            except Exception:
                log.exception("%s failed on a command from %s", self.name, sender.name)
                self.reply(sender, "Sorry, that could not be done right now; try again later.")

    # -- the realm's mind (ChatClient) ------------------------------------------------------

    def receive(self, event: Said) -> None:
        # Notices never get an answer (no loops between services and bots).
        if event.target is self.user and event.kind == "message" and not event.action:
            self._run(event.sender, event.text)

    def user_joined(self, event) -> None:
        pass

    def user_left(self, event) -> None:
        pass

    def user_quit(self, event) -> None:
        pass

    def user_renamed(self, event) -> None:
        pass

    def group_meta_update(self, event) -> None:
        pass

    def group_settings_changed(self, event) -> None:
        pass

    def user_kicked(self, event) -> None:
        pass

    def user_invited(self, event) -> None:
        pass

    def user_flags_changed(self, event) -> None:
        pass

    def wallops(self, event) -> None:
        pass

    def account_changed(self, event) -> None:
        pass

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
