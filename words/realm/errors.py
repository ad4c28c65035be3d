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
