"""Assemble and run a words service from a Config: realm, portal, IRC server."""

from __future__ import annotations

import asyncio
import logging
import signal

from words.config import Config
from words.cred import Portal, PasswordHasher, make_checker
from words.irc.server import IRCServer
from words.realm import InMemoryWordsRealm

log = logging.getLogger("words")


def build_server(config: Config) -> IRCServer:
    """Everything `words serve` runs, not yet listening. Raises ValueError for bad auth specs."""
    realm = InMemoryWordsRealm(
        config.realm,
        casemapping=config.casemapping,
        create_group_on_request=config.create_groups_on_request,
    )
    hasher = PasswordHasher.from_config(config.hashing) if config.hashing else None
    kwargs = {"hasher": hasher} if hasher is not None else {}
    checkers = [make_checker(spec, **kwargs) for spec in config.auth]
    portal = Portal(realm, checkers)
    return IRCServer(config, realm, portal)


async def serve(server: IRCServer, ready: asyncio.Event | None = None) -> None:
    """Run until SIGINT or SIGTERM, then say goodbye to every client."""
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await server.stop("Server shutting down")
