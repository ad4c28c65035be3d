"""What a user presents to log in.

Avatar IDs, what checkers turn credentials into, are plain ``str``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class UsernamePassword:
    username: str
    # repr=False: credentials end up in logs and tracebacks.
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Anonymous:
    """An anonymous login; ``name`` is the name asked for (e.g. an IRC nick)."""

    name: str = ""
