"""Users, groups and minds: the nouns of the words realm."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from words.realm.events import Joined, Left, MetaChanged, Quit, Renamed, Said


class ChatClient(Protocol):
    """A mind: the front end's object for one signed-on user (Twisted's IChatClient).

    The IRC server's connection is one; an XMPP session is another. Each
    method gets the realm event itself and must not block.
    """

    def receive(self, event: Said) -> None: ...
    def user_joined(self, event: Joined) -> None: ...
    def user_left(self, event: Left) -> None: ...
    def user_quit(self, event: Quit) -> None: ...
    def user_renamed(self, event: Renamed) -> None: ...
    def group_meta_update(self, event: MetaChanged) -> None: ...


@dataclass(eq=False, slots=True)
class User:
    """A user of the chat service, online while `mind` is set."""

    name: str
    folded: str
    mind: ChatClient | None = None
    account: str | None = None  # None: not logged in to an account
    username: str = ""  # what IRC calls the ident
    host: str = ""
    realname: str = ""
    groups: dict[str, Group] = field(default_factory=dict)  # folded name -> group
    signed_on: float = field(default_factory=time.time)
    last_message: float = field(default_factory=time.time)
    # Users made for one session vanish when it ends; created ones stay.
    transient: bool = False

    @property
    def online(self) -> bool:
        return self.mind is not None

    def __repr__(self) -> str:
        return f"<User {self.name!r}>"


@dataclass(eq=False, slots=True)
class Group:
    """A group of users (an IRC channel, an XMPP room).

    `members` maps each member to its status letters ("o" operator, "v"
    voice), the realm's protocol-neutral form of channel privileges.
    """

    name: str
    folded: str
    members: dict[User, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    # Groups made on request vanish when the last member leaves.
    transient: bool = False

    @property
    def topic(self) -> str:
        return self.meta.get("topic", "")

    def __repr__(self) -> str:
        return f"<Group {self.name!r} ({len(self.members)} members)>"
