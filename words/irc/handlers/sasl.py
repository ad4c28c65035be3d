"""AUTHENTICATE: SASL login during registration (IRCv3 sasl 3.1/3.2).

Payloads are base64 in chunks of 400 bytes; a chunk shorter than 400 (or
"+") ends a message. The mechanisms themselves are protocol-neutral
(words.cred.sasl, words.cred.scram); the result goes through the Portal
like a PASS login, and the avatar is used when registration completes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from words.cred import LoginFailed, LoginThrottled, UnauthorizedLogin
from words.cred.sasl import CertificateFingerprint, VerifiedAccount, parse_plain
from words.cred.scram import ScramServer, ScramVerifier
from words.irc import numerics as N
from words.irc.caps import sasl_mechanisms
from words.irc.commands import command
from words.realm import ChatAvatar

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection

CHUNK = 400
MAX_MESSAGE = 8192  # bytes of one decoded SASL message; longer gets 905
MAX_FAILURES = 3  # failed attempts on one connection before it is closed
# Salts the SCRAM decoy of unknown accounts: stable for the life of the process.
_DECOY_SECRET = secrets.token_bytes(32)


@dataclass
class SaslSession:
    mechanism: str
    buffer: str = ""
    scram: ScramServer | None = None
    failures: int = 0
    busy: bool = False  # a step is being checked (off the loop)
    pending: list[str] = field(default_factory=list)


@command("AUTHENTICATE", min_params=1, needs_registration=False)
def handle_authenticate(conn: IRCConnection, msg: Message) -> None:
    if "sasl" not in conn.caps:
        conn.numeric(N.ERR_SASLFAIL, "SASL authentication failed: request the sasl capability first")
        return
    if conn.user is not None or conn.avatar is not None:
        conn.numeric(N.ERR_SASLALREADY, "You have already authenticated using SASL")
        return
    arg = msg.params[0]
    session = conn.sasl
    if arg == "*":
        if session is not None:
            # A new session: a step still being checked sees it was aborted. The
            # failures so far still count, or aborting would reset the limit.
            conn.sasl = SaslSession("", failures=session.failures)
            conn.numeric(N.ERR_SASLABORTED, "SASL authentication aborted")
        else:
            conn.numeric(N.ERR_SASLFAIL, "SASL authentication failed")
        return
    if session is None or not session.mechanism:
        _start(conn, arg.upper(), session)
        return
    if session.busy:
        session.pending.append(arg)  # the client pipelined; kept in order
        return
    _chunk(conn, session, arg)


def _start(conn: IRCConnection, mechanism: str, old: SaslSession | None) -> None:
    mechanisms = sasl_mechanisms(conn.server, conn)
    if mechanism not in mechanisms:
        conn.numeric(N.RPL_SASLMECHS, ",".join(mechanisms), "are available SASL mechanisms")
        conn.numeric(N.ERR_SASLFAIL, "SASL authentication failed")
        return
    if mechanism == "EXTERNAL" and conn.certificate_fingerprint() is None:
        conn.numeric(N.ERR_SASLFAIL, "SASL authentication failed: no client certificate")
        return
    session = SaslSession(mechanism, failures=old.failures if old else 0)
    if mechanism == "SCRAM-SHA-256":
        session.scram = ScramServer(_scram_lookup(conn), _DECOY_SECRET)
    conn.sasl = session
    conn.send("AUTHENTICATE", "+")
    asyncio.get_running_loop().call_later(
        conn.server.config.limits.sasl_timeout, _time_limit, conn, session
    )


def _time_limit(conn: IRCConnection, session: SaslSession) -> None:
    # Every outcome replaces conn.sasl, so a session still in place has run out of time.
    if conn.sasl is session and not conn.closing:
        _fail(conn, N.ERR_SASLFAIL, "SASL authentication timed out")


def _chunk(conn: IRCConnection, session: SaslSession, arg: str) -> None:
    if len(arg) > CHUNK:
        _fail(conn, N.ERR_SASLTOOLONG, "SASL message too long")
        return
    if arg != "+":
        session.buffer += arg
        if len(session.buffer) > MAX_MESSAGE * 4 // 3 + 4:
            _fail(conn, N.ERR_SASLTOOLONG, "SASL message too long")
            return
        if len(arg) == CHUNK:
            return  # more chunks follow
    encoded, session.buffer = session.buffer, ""
    try:
        message = base64.b64decode(encoded, validate=True) if encoded else b""
    except (binascii.Error, ValueError):
        _fail(conn, N.ERR_SASLFAIL, "SASL authentication failed: bad base64")
        return
    session.busy = True
    conn.answer_later(_step(conn, session, message))


async def _step(conn: IRCConnection, session: SaslSession, message: bytes) -> None:
    server = conn.server
    challenge: bytes | None = None
    avatar = logout = None
    try:
        if session.mechanism == "SCRAM-SHA-256":
            scram = session.scram
            assert scram is not None
            if scram.account is None:
                # server-first-message, or server-final-message once the proof checks out.
                challenge = await _scram_step(conn, scram, message)
            elif message:
                raise UnauthorizedLogin("SCRAM: the reply to the server-final-message must be empty")
            else:
                credentials: object = VerifiedAccount(scram.account)
        elif session.mechanism == "PLAIN":
            credentials = parse_plain(message)
        else:  # EXTERNAL
            fingerprint = conn.certificate_fingerprint()
            requested = message.decode("utf-8", "replace")
            credentials = CertificateFingerprint(fingerprint or "", requested)
        if challenge is None:
            _, avatar, logout = await server.portal.login(
                credentials, conn, ChatAvatar, address=conn.peer_host
            )
    except LoginThrottled:
        if not conn.closing:
            conn.numeric(N.ERR_SASLFAIL, "Too many failed logins; try again later")
            conn.close("Too many failed logins")
        return
    except LoginFailed:
        if conn.closing:
            return
        conn.log.info("SASL %s login failed", session.mechanism)
        if conn.sasl is not session:  # aborted meanwhile: no 904 after the 906, but it counts
            _count_failure(conn)
            return
        _fail(conn, N.ERR_SASLFAIL, "SASL authentication failed")
        return
    except Exception:
        conn.log.exception("SASL %s could not be checked", session.mechanism)
        if not conn.closing and conn.sasl is session:
            _fail(conn, N.ERR_SASLFAIL, "SASL authentication is unavailable right now, try later",
                  counts=False)
        return
    finally:
        session.busy = False
    if conn.closing or conn.sasl is not session or conn.user is not None:
        if logout is not None:
            logout()  # the client aborted while the login was checked: it stays logged out
        if conn.user is not None and conn.sasl is session:  # registered meanwhile
            conn.sasl = None
            conn.numeric(N.ERR_SASLABORTED, "SASL authentication aborted")
        return
    if challenge is not None:
        # For SCRAM's server-final-message too: IRC has no "additional data with
        # success" (RFC 4422 section 5), so it goes out as a challenge and the
        # outcome waits for the client's empty response, or its abort.
        _challenge(conn, challenge)
        _drain(conn, session)
        return
    assert isinstance(avatar, ChatAvatar)
    conn.sasl = None
    conn.avatar = avatar
    mask = f"{conn.nick or '*'}!{conn.username or '*'}@{conn.peer_host}"
    conn.numeric(N.RPL_LOGGEDIN, mask, avatar.account, f"You are now logged in as {avatar.account}")
    conn.numeric(N.RPL_SASLSUCCESS, "SASL authentication successful")
    conn.log.info("SASL %s login as %s", session.mechanism, avatar.account)


def _challenge(conn: IRCConnection, data: bytes) -> None:
    encoded = base64.b64encode(data).decode() if data else "+"
    for i in range(0, len(encoded), CHUNK):
        conn.send("AUTHENTICATE", encoded[i : i + CHUNK])
    if encoded != "+" and len(encoded) % CHUNK == 0:
        conn.send("AUTHENTICATE", "+")


def _drain(conn: IRCConnection, session: SaslSession) -> None:
    pending, session.pending = session.pending, []
    for arg in pending:
        if conn.sasl is None or conn.closing:
            return
        _chunk(conn, session, arg)


def _count_failure(conn: IRCConnection) -> None:
    """A failure noticed after the client aborted: counted without a numeric."""
    session = conn.sasl
    if session is not None:
        session.failures += 1
        if session.failures >= MAX_FAILURES:
            conn.close("Too many failed SASL attempts")


def _fail(conn: IRCConnection, code: str, text: str, *, counts: bool = True) -> None:
    session = conn.sasl
    failures = (session.failures if session else 0) + (1 if counts else 0)
    conn.sasl = SaslSession("", failures=failures)  # ready for another mechanism
    conn.numeric(code, text)
    if failures >= MAX_FAILURES:
        conn.close("Too many failed SASL attempts")


async def _scram_step(conn: IRCConnection, scram: ScramServer, message: bytes) -> bytes:
    """One SCRAM step, under the Portal's login throttle.

    SCRAM checks the proof itself, not through the Portal, so its failures
    and successes are counted here, under the same keys (the name tried, the
    address): otherwise SCRAM would be a way around the throttle.
    """
    throttle = conn.server.portal.throttle
    try:
        challenge = await scram.step(message)
    except UnauthorizedLogin:
        if throttle is not None:
            throttle.failed(scram.username.lower() or None, conn.peer_host)
        raise
    if throttle is not None:
        if scram.account is not None:
            throttle.succeeded(scram.username.lower())
        elif throttle.blocked(scram.username.lower() or None, conn.peer_host):
            raise LoginThrottled("too many failed logins; try again later")
    return challenge


def _scram_lookup(conn: IRCConnection):
    accounts = conn.server.realm.accounts

    async def lookup(name: str):
        account = await accounts.get(name)
        if account is None or not account.scram:
            return None  # no verifier stored: SCRAM cannot log this account in
        return account.name, ScramVerifier.parse(account.scram)

    return lookup

