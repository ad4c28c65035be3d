"""Services: NickServ and ChanServ, users of the realm with a mind of their own.

They are signed on at start (`Services.start`) as NickServ and ChanServ,
`services@<server name>`, so every front end reaches them the same way (a
private message; the answer is a notice), and nobody else can take their
names. The `Registrar` holds the account rules that the IRC REGISTER command
shares with NickServ REGISTER.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import TYPE_CHECKING

from words.services.accounts import Registrar, RegistrationError
from words.services.base import ServiceBot, answering
from words.services.chanserv import ChanServ
from words.services.nickserv import NickServ

if TYPE_CHECKING:
    from words.config import Config
    from words.cred import PasswordHasher, Portal
    from words.realm import WordsRealm

__all__ = ["ChanServ", "NickServ", "Registrar", "RegistrationError", "ServiceBot", "Services"]

log = logging.getLogger("words.services")

SERVICE_NAMES = ("NickServ", "ChanServ")


class Services:
    def __init__(
        self, realm: WordsRealm, config: Config, *, hasher: PasswordHasher,
        portal: Portal | None = None,
    ) -> None:
        self.realm = realm
        self.config = config
        self.host = config.server_name
        self.registrar = Registrar(realm, portal, hasher, config, reserved=SERVICE_NAMES)
        self.nickserv: NickServ | None = None
        self.chanserv: ChanServ | None = None
        self._tasks: set[asyncio.Task] = set()
        self._unsubscribe = None
        enforce = config.services.enforce_nicks
        if enforce is None:  # on where accounts last (a database), off in memory
            enforce = bool(config.database)
        self.enforce_nicks = enforce

    @property
    def bots(self) -> list[ServiceBot]:
        return [bot for bot in (self.nickserv, self.chanserv) if bot is not None]

    def start(self) -> None:
        """Sign the services on (synchronous: no event loop needed yet)."""
        if not self.config.services.enabled or self.nickserv is not None:
            return
        self.nickserv, self.chanserv = NickServ(self), ChanServ(self)
        for bot in self.bots:
            bot.sign_on()
        self._unsubscribe = self.realm.subscribe(self.nickserv.on_event)
        log.info("services signed on: %s", ", ".join(bot.name for bot in self.bots))

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.nickserv is not None:
            self.nickserv.cancel_timers()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        for bot in self.bots:
            bot.sign_off()
        self.nickserv = self.chanserv = None

    def spawn(self, coro: Coroutine) -> asyncio.Task:
        """Run `coro` as a task that `stop` cancels (and that answers the front end's
        command being handled, if it asks: `answering`)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        waiting = answering.get()
        if waiting is not None:
            waiting.append(task)
        return task
