"""words.cred: authentication, the heir of Twisted Cred.

Credentials go to a Portal, whose checkers turn them into an avatar ID; the
realm turns that into an avatar. Nothing here knows about IRC or XMPP.
"""

from __future__ import annotations

from words.cred.checkers import (
    AccountChecker,
    AllowAnonymousAccess,
    CredentialsChecker,
    FilePasswordDB,
    InMemoryUsernamePasswordDatabase,
)
from words.cred.credentials import Anonymous, UsernamePassword
from words.cred.errors import (
    LoginFailed,
    LoginThrottled,
    UnauthorizedLogin,
    UnhandledCredentials,
    UnknownUser,
)
from words.cred.hashing import DEFAULT_HASHER, PasswordHasher
from words.cred.jid import JIDChecker, JIDCredentials, JIDGuestChecker
from words.cred.portal import LOGIN_REFUSED, Portal, Realm
from words.cred.strcred import AUTH_KINDS, AuthSpecError, help_auth, make_checker
from words.cred.throttle import LoginThrottle

__all__ = [
    "AUTH_KINDS",
    "AccountChecker",
    "DEFAULT_HASHER",
    "LOGIN_REFUSED",
    "AllowAnonymousAccess",
    "Anonymous",
    "AuthSpecError",
    "CredentialsChecker",
    "FilePasswordDB",
    "InMemoryUsernamePasswordDatabase",
    "JIDChecker",
    "JIDCredentials",
    "JIDGuestChecker",
    "LoginFailed",
    "LoginThrottle",
    "LoginThrottled",
    "PasswordHasher",
    "Portal",
    "Realm",
    "UnauthorizedLogin",
    "UnhandledCredentials",
    "UnknownUser",
    "UsernamePassword",
    "help_auth",
    "make_checker",
]
