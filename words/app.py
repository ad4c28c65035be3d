"""Assemble and run a words service from a Config: realm, portal, IRC server."""

from __future__ import annotations

import asyncio
import logging
import signal

from words.config import Config, ConfigError
from words.cred import DEFAULT_HASHER, PasswordHasher, Portal, make_checker
from words.irc.server import IRCServer
from words.realm import InMemoryWordsRealm

log = logging.getLogger("words")


def build_server(config: Config) -> IRCServer:
    """Everything `words serve` runs, not yet listening; ConfigError for bad auth or hashing."""
    realm = InMemoryWordsRealm(
        config.realm,
        casemapping=config.casemapping,
        create_group_on_request=config.create_groups_on_request,
    )
    try:
        hasher = PasswordHasher.from_config(config.hashing) if config.hashing else DEFAULT_HASHER
    except ValueError as exc:
        raise ConfigError(config.source, "hashing", str(exc)) from None
    checkers = []
    for i, spec in enumerate(config.auth):
        try:
            checkers.append(make_checker(spec, hasher=hasher))
        except ValueError as exc:
            raise ConfigError(config.source, f"auth[{i}]", str(exc)) from None
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
