"""Login failures raised by checkers and the portal."""

from __future__ import annotations


class LoginFailed(Exception):
    """Base of every authentication failure."""


class UnauthorizedLogin(LoginFailed):
    """The credentials were refused."""


class UnknownUser(UnauthorizedLogin):
    """The checker does not know this user: the portal may ask the next checker."""


class UnhandledCredentials(LoginFailed):
    """No checker accepts this type of credentials."""


class LoginThrottled(LoginFailed):
    """Too many failed logins for this account name or from this address: try later.

    Raised before any checking, for names that exist and names that do not
    alike, so it tells nothing about which accounts exist.
    """
