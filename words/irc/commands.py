"""The command table: one entry per IRC command, registered where it is handled.

Like Ergo's table, each entry says how many parameters the command needs and
whether the client must be registered first; the connection checks both
before calling the handler, so handlers never re-check them. Adding a command
is one decorated function (Twisted's `irc_<COMMAND>`, but in one table).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection

Handler = Callable[["IRCConnection", "Message"], None]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    handler: Handler
    min_params: int = 0
    needs_registration: bool = True


COMMANDS: dict[str, Command] = {}


def command(name: str, *, min_params: int = 0, needs_registration: bool = True) -> Callable[[Handler], Handler]:
    """Register `handler` for `name`; a second registration of a name is an error."""

    def register(handler: Handler) -> Handler:
        if name in COMMANDS:
            raise ValueError(f"IRC command {name} is registered twice")
        COMMANDS[name] = Command(name, handler, min_params, needs_registration)
        return handler

    return register


def load_handlers() -> dict[str, Command]:
    """Import the handler modules (each registers its commands) and return the table."""
    from words.irc.handlers import (
        account,
        channels,
        chathistory,
        ircv3,
        messages,
        modes,
        monitor,
        operators,
        queries,
        registration,
        sasl,
        server_info,
        users,
    )

    return COMMANDS
