"""Assemble and run a words service from a Config: realm, portal, IRC server."""

from __future__ import annotations

import asyncio
import logging
import signal

from words.config import Config, ConfigError
from words.cred import (
    DEFAULT_HASHER,
    AccountChecker,
    CredentialsChecker,
    InMemoryUsernamePasswordDatabase,
    JIDChecker,
    JIDGuestChecker,
    PasswordHasher,
    Portal,
    make_checker,
)
from words.cred.sasl import CertificateChecker, VerifiedAccountChecker
from words.irc.server import IRCServer
from words.metrics import CountingLoginThrottle, MetricsServer
from words.realm import InMemoryWordsRealm, WordsRealm
from words.realm.history import Retention
from words.services import Services

log = logging.getLogger("words")


def build_server(config: Config) -> IRCServer:
    """Everything `words serve` runs, not yet listening; ConfigError for bad auth or hashing."""
    options = {
        "casemapping": config.casemapping,
        "create_group_on_request": config.create_groups_on_request,
    }
    if config.database:
        from words.realm.sql import SQLWordsRealm

        realm: WordsRealm = SQLWordsRealm(config.realm, config.database, **options)
    else:
        realm = InMemoryWordsRealm(config.realm, **options)
    if config.history.enabled:
        enable_history(realm, config)
    checkers, oper_checker = checkers_from_config(config, realm)
    limits = config.limits
    throttle = CountingLoginThrottle(
        account_failures=limits.login_failures_per_account,
        address_failures=limits.login_failures_per_address,
        window=limits.login_failure_window,
    )
    portal = Portal(realm, checkers, throttle=throttle)
    services = Services(realm, config, hasher=hasher_from_config(config), portal=portal)
    # Signed on before the IRC server counts users: LUSERS counts clients, not services.
    services.start()
    server = IRCServer(config, realm, portal, oper_checker)
    server.services = services
    if config.cluster is not None and config.cluster.enabled:
        try:
            from words.cluster.link import ClusterLink
        except ImportError:
            raise ConfigError(config.source, "cluster",
                              "needs the redis package: pip install 'words[cluster]'") from None
        server.cluster = ClusterLink(realm, config.cluster)  # joins the network in serve()
        server.cluster.on_rejoin.append(server.reload_bans)
    if config.xmpp is not None:
        from bridge.gateway import Gateway

        server.gateway = Gateway(config, realm, portal)  # connects in start_gateway()
    return server


async def start_gateway(server: IRCServer) -> None:
    """Start the XMPP gateway if the config has one; it connects (and reconnects) in the background."""
    gateway = getattr(server, "gateway", None)
    if gateway is not None:
        await gateway.start()


async def stop_gateway(server: IRCServer, reason: str = "Server shutting down") -> None:
    """Its XMPP users leave their rooms, then the component disconnects."""
    gateway = getattr(server, "gateway", None)
    if gateway is not None:
        await gateway.stop(reason)


def history_retention(config: Config, realm: WordsRealm) -> Retention:
    """The realm's Retention from the `history` config (0 seconds: no age limit)."""
    history = config.history
    return Retention(
        lines=history.lines, age=history.max_age or None,
        channels={realm.casefold(name): (lines, age or None)
                  for name, lines, age in history.channels},
    )


def enable_history(realm: WordsRealm, config: Config) -> None:
    """Keep history in the realm's store; never private messages to or from services."""
    from words.services.base import ServiceBot

    history = realm.enable_history(history_retention(config, realm),
                                   private=config.history.private)
    history.skip_private = lambda user: isinstance(user.mind, ServiceBot)


def hasher_from_config(config: Config) -> PasswordHasher:
    """The password hasher `config.hashing` asks for; ConfigError if it is wrong."""
    try:
        return PasswordHasher.from_config(config.hashing) if config.hashing else DEFAULT_HASHER
    except ValueError as exc:
        raise ConfigError(config.source, "hashing", str(exc)) from None


def checkers_from_config(
    config: Config, realm: WordsRealm
) -> tuple[list[CredentialsChecker], CredentialsChecker | None]:
    """The login checkers, and a checker for the opers (None without opers).

    The chain is `config.auth` in order, then the realm's own accounts (PASS
    and SASL PLAIN), their certificates (SASL EXTERNAL) and SCRAM's proofs.
    """
    hasher = hasher_from_config(config)
    checkers = []
    for i, spec in enumerate(config.auth):
        try:
            checkers.append(make_checker(spec, hasher=hasher))
        except ValueError as exc:
            raise ConfigError(config.source, f"auth[{i}]", str(exc)) from None
    checkers += [
        AccountChecker(realm.accounts, hasher=hasher),
        CertificateChecker(realm.accounts, realm.casefold),
        VerifiedAccountChecker(),
    ]
    if config.xmpp is not None:
        # XMPP users: a trusted domain or a linked JID, then guests if allowed.
        checkers.append(JIDChecker(realm.accounts, config.xmpp.trusted_domains))
        if config.xmpp.unknown_jids == "guest":
            checkers.append(JIDGuestChecker())
    oper_checker = None
    if config.opers:
        # Hashes only (the config refuses plaintext): the same checker and
        # constant-time paths as user logins.
        oper_checker = InMemoryUsernamePasswordDatabase(
            {oper.name: oper.password_hash for oper in config.opers}, hasher=hasher
        )
    return checkers, oper_checker


async def serve(server: IRCServer, ready: asyncio.Event | None = None) -> None:
    """Run until SIGINT, SIGTERM, DIE or RESTART, then say goodbye to every client.

    After a RESTART, `server.restart_requested` is true: the caller starts over
    (`words serve` re-executes its own command line).
    """
    opened = getattr(server.realm, "open", None)
    if opened is not None:
        await opened()  # the SQL realm: schema check, registered channels
    metrics = None
    if server.config.metrics is not None:
        metrics = server.metrics = MetricsServer(server)
        await metrics.start(server.config.metrics)  # OSError (address in use) before any client
    cluster = getattr(server, "cluster", None)
    if cluster is not None:
        await cluster.start()  # ClusterError: Redis unreachable, node name in use
    await server.start()
    await start_gateway(server)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.request_shutdown, "Server shutting down")
    # SIGHUP reloads the configuration, as REHASH does; a bad file is refused and logged.
    loop.add_signal_handler(signal.SIGHUP, server.rehash)
    if ready is not None:
        ready.set()
    try:
        await server.shutdown_requested.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        log.info("shutting down: %s", server.shutdown_reason)
        await stop_gateway(server, server.shutdown_reason)
        await server.stop(server.shutdown_reason)
        if cluster is not None:
            await cluster.stop()  # after the clients' quits, before the services sign off
        if metrics is not None:
            await metrics.stop()
        services = getattr(server, "services", None)
        if services is not None:
            await services.stop()
        closed = getattr(server.realm, "close", None)
        if closed is not None:
            await closed()
