"""The events of the words realm: every change of state is one of these.

The realm applies an event (changes its state), then hands the same object to
every mind that must know and to every subscriber (history, a store, later a
cluster link or the XMPP gateway). Events hold the realm's own User and Group
objects; a cluster link turns them into names on the wire.

`msgid` is made once per event, when it is made: every recipient, history and
every cluster node (which receives it on the wire) see the same id (IRCv3 msgid).
`rendered` is a per-event cache for front ends: the IRC server formats a
channel message once and every recipient's connection reuses the same bytes.
"""

from __future__ import annotations

import itertools
import math
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from words.realm.model import Group, User


# Message ids: a random prefix per process, then a counter, so they are
# unique across restarts and nodes without a lookup, and cheap to make.
_MSGID_PREFIX = secrets.token_hex(6)
_msgid_counter = itertools.count(1)


def new_msgid() -> str:
    return f"{_MSGID_PREFIX}{next(_msgid_counter):x}"


_last_time = 0.0


def event_time() -> float:
    """The wall clock, never going backwards: event times (server-time) are monotonic."""
    global _last_time
    now = time.time()
    if now < _last_time:
        return _last_time
    _last_time = now
    return now


def millis(stamp: float) -> int:
    """The millisecond (since the epoch) a time is shown as (IRCv3 server-time, CHATHISTORY).

    In whole microseconds first (what the clock gives), then cut: with floats,
    1.001 - 1 is 0.000999..., which would show a millisecond low.
    """
    return round(stamp * 1_000_000) // 1000


def millisecond_start(ms: int) -> float:
    """The earliest time shown as millisecond `ms` or later: CHATHISTORY's timestamp bounds
    select exactly the records whose shown time is on the right side."""
    stamp = (ms * 1000 - 0.5) / 1_000_000
    while millis(stamp) >= ms:
        stamp = math.nextafter(stamp, -math.inf)
    while millis(stamp) < ms:
        stamp = math.nextafter(stamp, math.inf)
    return stamp


@dataclass(slots=True, kw_only=True)
class Event:
    # Name of the ChatClient method that receives this event (None: minds
    # are not told, only subscribers).
    mind_method: ClassVar[str | None] = None
    time: float = field(default_factory=event_time)
    msgid: str = field(default_factory=new_msgid)
    rendered: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(slots=True, kw_only=True)
class UserCreated(Event):
    """A lasting user was created (it is offline until it signs on)."""

    user: User


@dataclass(slots=True, kw_only=True)
class SignedOn(Event):
    """A mind was attached to a user (made on request if needed)."""

    user: User


@dataclass(slots=True, kw_only=True)
class Quit(Event):
    """A user signed off; everyone sharing a group hears it exactly once."""

    mind_method: ClassVar[str | None] = "user_quit"
    user: User
    reason: str
    # The groups the user was in, filled in when applied (history keeps a QUIT in each).
    groups: list[Group] = field(default_factory=list)
    # The mind the user was signed on with, filled in when applied (it is None after).
    mind: Any = None


@dataclass(slots=True, kw_only=True)
class Renamed(Event):
    """A user changed name; once applied, `user.name` is `new_name`."""

    mind_method: ClassVar[str | None] = "user_renamed"
    user: User
    old_name: str
    new_name: str


@dataclass(slots=True, kw_only=True)
class GroupCreated(Event):
    group: Group


@dataclass(slots=True, kw_only=True)
class GroupRemoved(Event):
    group: Group


@dataclass(slots=True, kw_only=True)
class Joined(Event):
    mind_method: ClassVar[str | None] = "user_joined"
    group: Group
    user: User


@dataclass(slots=True, kw_only=True)
class Left(Event):
    mind_method: ClassVar[str | None] = "user_left"
    group: Group
    user: User
    reason: str = ""


@dataclass(slots=True, kw_only=True)
class Said(Event):
    """A message from `sender` to a group or to one user.

    `kind` is "message", "notice" (a notice must never trigger an automatic
    reply) or "tagmsg" (only tags, no text: typing notifications, reactions).
    `action` marks a /me. `tags` are the client-only tags the sender attached
    (IRCv3 `+name=value`), relayed to recipients that understand them.
    """

    mind_method: ClassVar[str | None] = "receive"
    sender: User
    target: User | Group
    text: str
    kind: str = "message"
    action: bool = False
    # Status letters a group member needs to receive it ("o": operators only);
    # empty: every member.
    to_status: str = ""
    tags: dict[str, str] | None = None


@dataclass(slots=True, kw_only=True)
class MetaChanged(Event):
    """A group's metadata (topic and the like) changed."""

    mind_method: ClassVar[str | None] = "group_meta_update"
    group: Group
    changes: dict[str, Any]
    by: User | None = None


@dataclass(slots=True, kw_only=True)
class SettingsChanged(Event):
    """A group's settings or members' status changed.

    Each change is `(name, add, value)`: ("moderated", True, None),
    ("key", True, "secret"), ("limit", False, None), ("ban", True, mask),
    ("op", False, user), ... in the order they were made; only changes that
    really changed something are listed.
    """

    mind_method: ClassVar[str | None] = "group_settings_changed"
    group: Group
    changes: list[tuple[str, bool, Any]]
    by: User | None = None


@dataclass(slots=True, kw_only=True)
class Kicked(Event):
    mind_method: ClassVar[str | None] = "user_kicked"
    group: Group
    user: User
    by: User | None
    reason: str = ""


@dataclass(slots=True, kw_only=True)
class Invited(Event):
    """`user` may now join `group` even if it is invite-only."""

    mind_method: ClassVar[str | None] = "user_invited"
    group: Group
    user: User
    by: User


@dataclass(slots=True, kw_only=True)
class AwayChanged(Event):
    """`user` went away with `message`, or came back (None); minds sharing a group are told."""

    mind_method: ClassVar[str | None] = "user_away_changed"
    user: User
    message: str | None


@dataclass(slots=True, kw_only=True)
class UserFlagsChanged(Event):
    """A user's flags changed: `changes` is [(flag, add), ...]; only the user is told."""

    mind_method: ClassVar[str | None] = "user_flags_changed"
    user: User
    changes: list[tuple[str, bool]]
    by: User | None = None


@dataclass(slots=True, kw_only=True)
class Wallops(Event):
    """A message to every user with the "wallops" flag."""

    mind_method: ClassVar[str | None] = "wallops"
    sender: User | None
    text: str


@dataclass(slots=True, kw_only=True)
class ServerBanChanged(Event):
    """A network-wide ban set (or replaced), or lifted (`ban` None).

    K-lines (`kind` "k", a user@host mask) and D-lines ("d", an address or CIDR). The
    realm keeps no bans itself: the IRC server does (words.irc.serverbans), and this
    event carries the change to the other nodes of a cluster, whose servers put it in
    force there too.
    """

    kind: str
    mask: str
    ban: Any = None  # a words.store.serverbans.ServerBanRecord; None when lifted


@dataclass(slots=True, kw_only=True)
class GroupRegistered(Event):
    """`group` now belongs to the account `founder` and lasts."""

    group: Group
    founder: str


@dataclass(slots=True, kw_only=True)
class GroupDropped(Event):
    """`group` is no longer registered: it goes when its last member leaves."""

    group: Group


@dataclass(slots=True, kw_only=True)
class AccessChanged(Event):
    """An account's level in a registered group: "op", "voice", or None (removed)."""

    group: Group
    account: str
    level: str | None


@dataclass(slots=True, kw_only=True)
class AccountChanged(Event):
    """`user` logged in to `account`, or out (None); `old` is the account it had.

    The user's own mind is told (IRC: 900/901) and so is each mind sharing a
    group with it (IRC: account-notify).
    """

    mind_method: ClassVar[str | None] = "account_changed"
    user: User
    account: str | None
    old: str | None = None


@dataclass(slots=True, kw_only=True)
class RealnameChanged(Event):
    """`user` changed its real name; the user and the minds sharing a group are told."""

    mind_method: ClassVar[str | None] = "user_realname_changed"
    user: User
    realname: str


@dataclass(slots=True, kw_only=True)
class HostChanged(Event):
    """`user`'s user name or visible host changed (an oper's CHGHOST, a vhost).

    Once applied, `user.username` and `user.host` are the new ones; the old
    ones are kept here, since front ends name the user by its old mask
    (IRC: `:nick!old_user@old_host CHGHOST new_user new_host`). The real
    address (`user.real_host`) never changes. The user and the minds sharing
    a group with it are told.
    """

    mind_method: ClassVar[str | None] = "user_host_changed"
    user: User
    old_username: str
    old_host: str
    username: str
    host: str
