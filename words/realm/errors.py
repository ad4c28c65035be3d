"""Errors of the words realm; front ends turn them into their protocol's replies."""


class RealmError(Exception):
    pass


class NoSuchUser(RealmError):
    pass


class NoSuchGroup(RealmError):
    pass


class DuplicateUser(RealmError):
    """The name is taken by another user."""


class DuplicateGroup(RealmError):
    pass


class NotInGroup(RealmError):
    pass


class JoinRefused(RealmError):
    """The group's settings refuse this user (subclasses say why)."""


class Banned(JoinRefused):
    pass


class InviteOnly(JoinRefused):
    pass


class BadKey(JoinRefused):
    pass


class GroupFull(JoinRefused):
    pass


class NeedAccount(JoinRefused):
    """The group admits only users logged in to an account (IRC: +r)."""


class CannotSpeak(RealmError):
    """The user may not speak in the group: `reason` is "outside", "moderated" or "banned"."""

    def __init__(self, group: str, reason: str) -> None:
        super().__init__(group, reason)
        self.reason = reason


class AlreadyRegistered(RealmError):
    pass
