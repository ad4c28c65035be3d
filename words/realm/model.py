"""Users, groups and minds: the nouns of the words realm."""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from words.realm.events import (
        AccountChanged,
        AwayChanged,
        HostChanged,
        Invited,
        Joined,
        Kicked,
        Left,
        MetaChanged,
        Quit,
        RealnameChanged,
        Renamed,
        Said,
        SettingsChanged,
        UserFlagsChanged,
        Wallops,
    )


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
    def group_settings_changed(self, event: SettingsChanged) -> None: ...
    def user_kicked(self, event: Kicked) -> None: ...
    def user_invited(self, event: Invited) -> None: ...
    def user_flags_changed(self, event: UserFlagsChanged) -> None: ...
    def wallops(self, event: Wallops) -> None: ...
    def account_changed(self, event: AccountChanged) -> None: ...
    def user_away_changed(self, event: AwayChanged) -> None: ...
    def user_realname_changed(self, event: RealnameChanged) -> None: ...
    def user_host_changed(self, event: HostChanged) -> None: ...


# Every user's flags until one is set: one empty frozenset (frozenset() makes a new
# 216-byte one each time).
NO_FLAGS: frozenset[str] = frozenset()


@dataclass(eq=False, slots=True, weakref_slot=True)
class User:
    """A user of the chat service, online while `mind` is set."""

    name: str
    folded: str
    mind: ChatClient | None = None
    account: str | None = None  # None: not logged in to an account
    username: str = ""  # what IRC calls the ident
    host: str = ""  # the host everyone sees (a cloak when the front end cloaks)
    # The real address behind a cloaked `host` (else equal to it): bans match
    # it too; only operators are shown it.
    real_host: str = ""
    realname: str = ""
    groups: dict[str, Group] = field(default_factory=dict)  # folded name -> group
    signed_on: float = field(default_factory=time.time)
    last_message: float = field(default_factory=time.time)
    # Users made for one session vanish when it ends; created ones stay.
    transient: bool = False
    away: str | None = None
    # Protocol-neutral user flags: "invisible", "wallops", "bot", "operator". Replaced,
    # never changed in place: most users have none, and share the empty one.
    flags: frozenset[str] = NO_FLAGS
    # SHA-256 (lower-case hex) of the client certificate the front end saw at
    # sign-on (IRC over TLS), or None: NickServ CERT ADD binds it to an account.
    certificate: str | None = None
    # The last mask made (see `mask`).
    _mask: str = field(default="", init=False, repr=False)

    @property
    def mask(self) -> str:
        """The `name!username@host` that bans and WHO masks are matched against.

        While it stays the same, the same string is returned: history records (a
        join, each message, the quit) share it instead of keeping a copy each.
        """
        mask = f"{self.name}!{self.username}@{self.host}"
        if mask == self._mask:
            return self._mask
        self._mask = mask
        return mask

    @property
    def masks(self) -> tuple[str, ...]:
        """The masks a ban may match: the visible one, and the real one behind a cloak."""
        if self.real_host and self.real_host != self.host:
            return (self.mask, f"{self.name}!{self.username}@{self.real_host}")
        return (self.mask,)

    @property
    def online(self) -> bool:
        return self.mind is not None

    def __repr__(self) -> str:
        return f"<User {self.name!r}>"


@dataclass(slots=True)
class MaskEntry:
    """One entry of a ban, exception or invite-exception list."""

    mask: str
    set_by: str
    set_at: float


@dataclass(slots=True)
class GroupSettings:
    """A group's settings in protocol-neutral names.

    IRC maps its channel modes onto these (i k l m n t s p b e I); the XMPP
    gateway maps room configuration onto the same fields, so a +m channel is
    a moderated room on both sides.
    """

    invite_only: bool = False
    key: str | None = None
    limit: int | None = None
    moderated: bool = False
    no_external: bool = True
    topic_locked: bool = True
    secret: bool = False
    private: bool = False
    registered_only: bool = False  # only users logged in to an account may join
    # Folded mask -> entry.
    bans: dict[str, MaskEntry] = field(default_factory=dict)
    exceptions: dict[str, MaskEntry] = field(default_factory=dict)
    invex: dict[str, MaskEntry] = field(default_factory=dict)


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
    settings: GroupSettings = field(default_factory=GroupSettings)
    # Invitations follow the user (a rename keeps them) and vanish with it
    # (weak references: a user who quits leaves nothing behind).
    invited: weakref.WeakSet[User] = field(default_factory=weakref.WeakSet)
    # A registered group has a founder account; it lasts when empty, and its
    # access list gives accounts their status ("op", "voice") on join.
    founder: str | None = None  # folded account name
    access: dict[str, str] = field(default_factory=dict)  # folded account -> level

    @property
    def topic(self) -> str:
        return self.meta.get("topic", "")

    def __repr__(self) -> str:
        return f"<Group {self.name!r} ({len(self.members)} members)>"
