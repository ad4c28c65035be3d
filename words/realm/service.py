"""The words realm: the chat service, independent of any protocol.

Every change of state goes through `WordsRealm.apply`: it changes the state,
tells the minds that must know, then the subscribers. The public methods
(`join`, `say`, `rename`, ...) check their arguments, build an event and
apply it. Nothing here formats IRC or XMPP.

State changes are synchronous on purpose: live state is held in memory, so a
channel message costs no task switch; a store that persists events does its
I/O behind a subscriber.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterable
from functools import partial
from itertools import groupby
from types import FunctionType
from typing import Any

from words.casemap import get_casefold
from words.masks import match_mask
from words.realm.accounts import MemoryAccountStore
from words.realm.errors import (
    AlreadyRegistered,
    BadKey,
    Banned,
    CannotSpeak,
    DuplicateGroup,
    DuplicateUser,
    GroupFull,
    InviteOnly,
    NeedAccount,
    NoSuchGroup,
    NoSuchUser,
    NotInGroup,
)
from words.realm.events import (
    AccessChanged,
    AccountChanged,
    AwayChanged,
    Event,
    GroupCreated,
    GroupDropped,
    GroupRegistered,
    GroupRemoved,
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
    ServerBanChanged,
    SettingsChanged,
    SignedOn,
    UserCreated,
    UserFlagsChanged,
    Wallops,
)
from words.realm.history import History, MemoryHistory, Retention
from words.realm.model import NO_FLAGS, ChatClient, Group, MaskEntry, User

# SettingsChanged names: member status -> status letter, list -> settings field.
STATUS_CHANGES = {"op": "o", "voice": "v"}
LIST_CHANGES = {"ban": "bans", "exception": "exceptions", "invex": "invex"}
VALUE_CHANGES = ("key", "limit")
FLAG_CHANGES = (
    "invite_only", "moderated", "no_external", "topic_locked", "secret", "private",
    "registered_only",
)
USER_FLAGS = ("invisible", "wallops", "bot", "operator")

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], object]


def _tell_none(minds: Iterable[Any], event: Event) -> None:
    """For a mind class without the event's method: a mind may not know every event
    (a service ignores AWAY)."""


def _tell_each(handler: Callable[[Any, Event], object], minds: Iterable[Any], event: Event) -> None:
    for mind in minds:
        try:
            handler(mind, event)
        except Exception:  # one broken front end must not stop delivery
            log.exception("mind %r failed on %s", mind, type(event).__name__)


def _ask_each(method: str, minds: Iterable[Any], event: Event) -> None:
    for mind in minds:
        try:
            handler = getattr(mind, method, None)
            if handler is not None:
                handler(event)
        except Exception:  # one broken front end must not stop delivery
            log.exception("mind %r failed on %s", mind, type(event).__name__)


def _teller(cls: type, method: str) -> Callable[[Iterable[Any], Event], object]:
    """How to tell minds of class `cls` an event with mind method `method`.

    Looked up once per class (see WordsRealm._tell). A class whose instances all
    answer getattr(mind, method) alike (no instance __dict__, no custom attribute
    lookup) is resolved here: its `<method>_all(minds, event)` static method if it
    has one (the IRC connection's channel-message fan-out), else its plain
    `method`, called per mind, else nothing. Any other class is asked per mind.
    """
    if (cls.__getattribute__ is not object.__getattribute__ or cls.__dictoffset__
            or hasattr(cls, "__getattr__")):
        return partial(_ask_each, method)
    batch = getattr(cls, f"{method}_all", None)
    if isinstance(batch, FunctionType):
        return batch
    handler = getattr(cls, method, None)
    if handler is None:
        return _tell_none
    if isinstance(handler, FunctionType):
        return partial(_tell_each, handler)
    return partial(_ask_each, method)


class ChatAvatar:
    """What a Portal login yields from a words realm: an identity, not yet a user.

    The front end picks the name (an IRC nick, a MUC nick) and signs on with
    it; `account` is the avatar ID the checkers vouched for.
    """

    __slots__ = ("realm", "account", "mind", "user")

    def __init__(self, realm: WordsRealm, account: str, mind: ChatClient) -> None:
        self.realm = realm
        self.account = account
        self.mind = mind
        self.user: User | None = None

    def sign_on(self, name: str, *, account: str | None = None, **info: str) -> User:
        self.user = self.realm.sign_on(name, self.mind, account=account, **info)
        return self.user

    def logout(self, reason: str = "Connection closed") -> None:
        if self.user is not None and self.user.mind is self.mind:
            self.realm.sign_off(self.user, reason)
        self.user = None


class WordsRealm:
    """Users and groups with Twisted Words semantics, and the one event stream."""

    def __init__(
        self,
        name: str,
        *,
        casemapping: str = "rfc1459",
        create_group_on_request: bool = False,
        create_user_on_request: bool = True,
        op_first_joiner: bool = True,
        accounts: Any = None,
    ) -> None:
        self.name = name
        self.casemapping = casemapping
        self.casefold = get_casefold(casemapping)
        self.create_group_on_request = create_group_on_request
        self.create_user_on_request = create_user_on_request
        self.op_first_joiner = op_first_joiner
        # Cluster hooks (words.cluster): did this joiner's node win (True) or lose (False)
        # the claim to be a new channel's first op, or made none (None: the local view
        # decides)? And: is the event being applied another node's (not to store or publish)?
        self.first_joiner_op: Callable[[Group, User], bool | None] = lambda group, user: None
        self.applying_remote = False
        # The account store: MemoryAccountStore here, the SQL store in SQLWordsRealm.
        self.accounts = accounts if accounts is not None else MemoryAccountStore(self.casefold)
        self.users: dict[str, User] = {}
        self.groups: dict[str, Group] = {}
        self._subscribers: list[Subscriber] = []
        # How to tell minds of each class an event (see _tell): {method: {class: teller}}.
        self._tellers: dict[str, dict[type, Callable[[Iterable[Any], Event], object]]] = {}
        # What was said and done, kept by enable_history (None: no history).
        self.history: History | None = None
        # Events an applier implies (an emptied group goes away), applied
        # after the event that caused them so every consumer sees causes first.
        self._follow_ups: list[Event] = []
        self._appliers: dict[type[Event], Callable[[Any], Iterable[ChatClient]]] = {
            UserCreated: self._apply_user_added,
            SignedOn: self._apply_user_added,
            Quit: self._apply_quit,
            Renamed: self._apply_renamed,
            GroupCreated: self._apply_group_created,
            GroupRemoved: self._apply_group_removed,
            Joined: self._apply_joined,
            Left: self._apply_left,
            Said: self._apply_said,
            MetaChanged: self._apply_meta_changed,
            SettingsChanged: self._apply_settings_changed,
            Kicked: self._apply_kicked,
            Invited: self._apply_invited,
            AwayChanged: self._apply_away_changed,
            UserFlagsChanged: self._apply_user_flags_changed,
            Wallops: self._apply_wallops,
            ServerBanChanged: lambda event: (),  # kept by the IRC server, not here
            GroupRegistered: self._apply_group_registered,
            GroupDropped: self._apply_group_dropped,
            AccessChanged: self._apply_access_changed,
            AccountChanged: self._apply_account_changed,
            RealnameChanged: self._apply_realname_changed,
            HostChanged: self._apply_host_changed,
        }

    # -- the one place -------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Change the state as `event` says, then tell minds and subscribers."""
        minds = self._appliers[type(event)](event)
        method = event.mind_method
        if method is not None:
            self._tell(minds, method, event)
        for subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception("subscriber %r failed on %s", subscriber, type(event).__name__)
        if self._follow_ups:
            follow_ups, self._follow_ups = self._follow_ups, []
            for follow_up in follow_ups:
                self.apply(follow_up)

    def _tell(self, minds: Iterable[ChatClient], method: str, event: Event) -> None:
        """Call `mind.<method>(event)` for each of `minds` that has the method, in order.

        The hot path of a channel message (once per recipient), so the method is
        looked up once per mind class, not per mind, and each run of minds of one
        class is handed over at once: a class may define `<method>_all(minds, event)`
        to take the whole run in one call (it must then isolate failures per mind).
        """
        tellers = self._tellers.get(method)
        if tellers is None:
            tellers = self._tellers[method] = {}
        for cls, run in groupby(minds, type):
            tell = tellers.get(cls)
            if tell is None:
                tell = tellers[cls] = _teller(cls, method)
            try:
                tell(run, event)
            except Exception:  # one broken front end must not stop delivery
                log.exception("minds of %s failed on %s", cls.__name__, type(event).__name__)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call `subscriber(event)` after every event; returns an unsubscribe function."""
        self._subscribers.append(subscriber)
        return lambda: self._subscribers.remove(subscriber)

    def enable_history(self, retention: Retention | None = None, *, private: bool = True) -> History:
        """Keep history from now on (in memory here; the SQL realm keeps it in its database)."""
        self.history = self._make_history(retention, private)
        self.subscribe(self.history.record)
        return self.history

    def _make_history(self, retention: Retention | None, private: bool) -> History:
        return MemoryHistory(self.casefold, retention, private=private)

    # -- Portal realm ----------------------------------------------------------

    async def request_avatar(
        self, avatar_id: str, mind: ChatClient, *interfaces: type
    ) -> tuple[type, ChatAvatar, Callable[[], None]]:
        if interfaces and ChatAvatar not in interfaces:
            raise NotImplementedError(f"{type(self).__name__} only provides ChatAvatar")
        avatar = ChatAvatar(self, avatar_id, mind)
        return ChatAvatar, avatar, avatar.logout

    # -- lookups ---------------------------------------------------------------

    def find_user(self, name: str) -> User | None:
        return self.users.get(self.casefold(name))

    def find_group(self, name: str) -> Group | None:
        return self.groups.get(self.casefold(name))

    def lookup_user(self, name: str) -> User:
        user = self.users.get(self.casefold(name))
        if user is None:
            raise NoSuchUser(name)
        return user

    def lookup_group(self, name: str) -> Group:
        group = self.groups.get(self.casefold(name))
        if group is None:
            raise NoSuchGroup(name)
        return group

    def create_user(self, name: str) -> User:
        """Create a lasting (offline) user; DuplicateUser if the name is taken."""
        folded = self.casefold(name)
        if folded in self.users:
            raise DuplicateUser(name)
        user = User(name=name, folded=folded)
        self.apply(UserCreated(user=user))
        return user

    def create_group(self, name: str, *, transient: bool = False) -> Group:
        folded = self.casefold(name)
        if folded in self.groups:
            raise DuplicateGroup(name)
        group = Group(name=name, folded=folded, transient=transient)
        self.apply(GroupCreated(group=group))
        return group

    def get_group(self, name: str) -> Group:
        """Look a group up, creating it if the realm creates groups on request."""
        group = self.groups.get(self.casefold(name))
        if group is not None:
            return group
        if not self.create_group_on_request:
            raise NoSuchGroup(name)
        return self.create_group(name, transient=True)

    def get_user(self, name: str) -> User:
        user = self.users.get(self.casefold(name))
        if user is not None:
            return user
        if not self.create_user_on_request:
            raise NoSuchUser(name)
        return self.create_user(name)

    # -- changes of state --------------------------------------------------------

    def sign_on(
        self,
        name: str,
        mind: ChatClient,
        *,
        account: str | None = None,
        username: str = "",
        host: str = "",
        realname: str = "",
        certificate: str | None = None,
        real_host: str = "",
    ) -> User:
        """Attach `mind` to the user `name` (made on request); DuplicateUser if online.

        `certificate` is the SHA-256 of a client certificate the front end saw;
        `real_host` the address behind a cloaked `host` (default: `host`).
        """
        folded = self.casefold(name)
        user = self.users.get(folded)
        if user is None:
            if not self.create_user_on_request:
                raise NoSuchUser(name)
            user = User(name=name, folded=folded, transient=True)
        elif user.mind is not None:
            raise DuplicateUser(name)
        user.mind = mind
        user.account = account
        user.username = username
        user.host = host
        user.real_host = real_host or host
        user.realname = realname
        user.certificate = certificate.lower() if certificate else None
        user.signed_on = user.last_message = time.time()
        user.flags = NO_FLAGS  # flags and away belong to a session
        user.away = None
        self.apply(SignedOn(user=user))
        return user

    def sign_off(self, user: User, reason: str) -> None:
        self.apply(Quit(user=user, reason=reason))

    def set_account(self, user: User, account: str | None) -> None:
        """Log `user` in to `account` (its stored spelling), or out with None."""
        if account == user.account:
            return
        self.apply(AccountChanged(user=user, account=account or None, old=user.account))

    def set_realname(self, user: User, realname: str) -> None:
        """Change `user`'s real name (IRC: SETNAME)."""
        if realname == user.realname:
            return
        self.apply(RealnameChanged(user=user, realname=realname))

    def set_host(self, user: User, username: str, host: str) -> None:
        """Change the user name and visible host `user` is shown with (IRC: CHGHOST)."""
        if username == user.username and host == user.host:
            return
        self.apply(HostChanged(
            user=user, old_username=user.username, old_host=user.host, username=username, host=host,
        ))

    def rename(self, user: User, new_name: str) -> None:
        folded = self.casefold(new_name)
        other = self.users.get(folded)
        if other is not None and other is not user:
            raise DuplicateUser(new_name)
        if new_name == user.name:
            return
        self.apply(Renamed(user=user, old_name=user.name, new_name=new_name))

    def join(self, user: User, group: Group) -> bool:
        """Add `user` to `group`; False if already a member (no event)."""
        if user in group.members:
            return False
        self.apply(Joined(group=group, user=user))
        return True

    def leave(self, user: User, group: Group, reason: str = "") -> None:
        if user not in group.members:
            raise NotInGroup(group.name)
        self.apply(Left(group=group, user=user, reason=reason))

    def say(
        self,
        sender: User,
        target: User | Group,
        text: str,
        *,
        kind: str = "message",
        action: bool = False,
        to_status: str = "",
        tags: dict[str, str] | None = None,
    ) -> Said:
        event = Said(
            sender=sender, target=target, text=text, kind=kind, action=action,
            to_status=to_status, tags=tags,
        )
        self.apply(event)
        return event

    def set_group_meta(self, group: Group, changes: dict[str, Any], by: User | None = None) -> None:
        self.apply(MetaChanged(group=group, changes=changes, by=by))

    def set_topic(self, group: Group, topic: str, by: User | None = None) -> None:
        author = by.name if by is not None else self.name
        self.set_group_meta(
            group, {"topic": topic, "topic_author": author, "topic_time": time.time()}, by
        )

    def register_group(self, group: Group, founder: str) -> None:
        """Make `group` belong to the account `founder` (AlreadyRegistered if it has one)."""
        if group.founder is not None:
            raise AlreadyRegistered(group.name)
        self.apply(GroupRegistered(group=group, founder=self.casefold(founder)))

    def drop_group(self, group: Group) -> None:
        if group.founder is not None:
            self.apply(GroupDropped(group=group))

    def set_access(self, group: Group, account: str, level: str | None) -> None:
        if level not in (None, "op", "voice"):
            raise ValueError(f"unknown access level {level!r}")
        self.apply(AccessChanged(group=group, account=self.casefold(account), level=level))

    def kick(self, group: Group, user: User, by: User | None, reason: str = "") -> None:
        if user not in group.members:
            raise NotInGroup(group.name)
        self.apply(Kicked(group=group, user=user, by=by, reason=reason))

    def invite(self, group: Group, user: User, by: User) -> None:
        self.apply(Invited(group=group, user=user, by=by))

    def set_away(self, user: User, message: str | None) -> None:
        """Mark `user` away with `message`, or back with None."""
        self.apply(AwayChanged(user=user, message=message or None))

    def set_user_flags(
        self, user: User, changes: list[tuple[str, bool]], by: User | None = None
    ) -> list[tuple[str, bool]]:
        """Set or clear user flags; returns (and announces) only what really changed."""
        effective = []
        for flag, add in changes:
            if flag not in USER_FLAGS:
                raise ValueError(f"unknown user flag {flag!r}")
            if (flag in user.flags) != add and (flag, add) not in effective:
                effective.append((flag, add))
        if effective:
            self.apply(UserFlagsChanged(user=user, changes=effective, by=by))
        return effective

    def wallops(self, sender: User | None, text: str) -> None:
        self.apply(Wallops(sender=sender, text=text))

    def server_ban_changed(self, kind: str, mask: str, ban: Any = None) -> None:
        """A K-line or D-line was set (`ban`) or lifted (None): tell whoever keeps them."""
        self.apply(ServerBanChanged(kind=kind, mask=mask, ban=ban))

    def change_settings(
        self, group: Group, changes: list[tuple[str, bool, Any]], by: User | None = None
    ) -> list[tuple[str, bool, Any]]:
        """Apply settings/status changes; returns (and announces) only what really changed."""
        effective: list[tuple[str, bool, Any]] = []
        after: dict[tuple[Any, ...], Any] = {}  # state after earlier changes of this call
        for name, add, value in changes:
            state = self._setting_state(group, name, add, value)
            if state is None:
                continue
            key, current, new = state
            if after.get(key, current) == new:
                continue
            after[key] = new
            effective.append((name, add, value if add or name not in VALUE_CHANGES else None))
        if effective:
            self.apply(SettingsChanged(group=group, changes=effective, by=by))
        return effective

    def _setting_state(
        self, group: Group, name: str, add: bool, value: Any
    ) -> tuple[tuple[Any, ...], Any, Any] | None:
        """(key, current value, value after the change) of one change; None if moot."""
        settings = group.settings
        if name in STATUS_CHANGES:
            status = group.members.get(value)
            if status is None:
                return None
            return (name, value), STATUS_CHANGES[name] in status, add
        if name in LIST_CHANGES:
            folded = self.casefold(value)
            return (name, folded), folded in getattr(settings, LIST_CHANGES[name]), add
        if name in VALUE_CHANGES:
            return (name,), getattr(settings, name), value if add else None
        if name in FLAG_CHANGES:
            return (name,), getattr(settings, name), add
        raise ValueError(f"unknown group setting {name!r}")

    # -- policy: the same rules for every front end -------------------------------------

    def is_banned(self, user: User, group: Group) -> bool:
        settings = group.settings
        if not settings.bans:
            return False
        masks = [self.casefold(m) for m in user.masks]
        if not any(match_mask(ban, mask) for ban in settings.bans for mask in masks):
            return False
        return not any(match_mask(exc, mask) for exc in settings.exceptions for mask in masks)

    def check_join(self, user: User, group: Group, key: str | None = None) -> None:
        """Raise a JoinRefused subclass if `group` does not admit `user` now.

        An invitation (or an invite exception) lets a user past +i and +l;
        never past a ban or a key.
        """
        settings = group.settings
        if self.is_banned(user, group):
            raise Banned(group.name)
        invited = user in group.invited
        if settings.invite_only and not invited:
            masks = [self.casefold(m) for m in user.masks]
            if not any(match_mask(m, mask) for m in settings.invex for mask in masks):
                raise InviteOnly(group.name)
        if settings.registered_only and not user.account and not invited:
            raise NeedAccount(group.name)
        if settings.key is not None and not hmac.compare_digest(
            (key or "").encode(), settings.key.encode()
        ):
            raise BadKey(group.name)
        if settings.limit is not None and len(group.members) >= settings.limit and not invited:
            raise GroupFull(group.name)

    def check_speak(self, user: User, group: Group) -> None:
        """Raise CannotSpeak if `user` may not send to `group` now."""
        status = group.members.get(user)
        if status is None and group.settings.no_external:
            raise CannotSpeak(group.name, "outside")
        if status:  # operators and voiced members always speak
            return
        if group.settings.moderated:
            raise CannotSpeak(group.name, "moderated")
        if self.is_banned(user, group):
            raise CannotSpeak(group.name, "banned")

    # -- appliers: state change, then who must be told -----------------------------

    def _apply_user_added(self, event: UserCreated | SignedOn) -> tuple[ChatClient, ...]:
        self.users[event.user.folded] = event.user
        return ()

    def _apply_quit(self, event: Quit) -> Iterable[ChatClient]:
        user = event.user
        minds = self._minds_sharing_groups(user, include_self=False)
        event.groups = list(user.groups.values())
        for group in event.groups:
            del group.members[user]
            if group.transient and not group.members:
                self._follow_ups.append(GroupRemoved(group=group))
        user.groups.clear()
        event.mind, user.mind = user.mind, None
        if user.transient:
            self.users.pop(user.folded, None)
        return minds

    def _apply_renamed(self, event: Renamed) -> Iterable[ChatClient]:
        user = event.user
        del self.users[user.folded]
        user.name = event.new_name
        user.folded = self.casefold(event.new_name)
        self.users[user.folded] = user
        return self._minds_sharing_groups(user, include_self=True)

    def _apply_settings_changed(self, event: SettingsChanged) -> Iterable[ChatClient]:
        group = event.group
        settings = group.settings
        set_by = event.by.mask if event.by is not None else self.name
        for name, add, value in event.changes:
            if name in STATUS_CHANGES:
                letter = STATUS_CHANGES[name]
                status = group.members[value].replace(letter, "")
                group.members[value] = "".join(sorted(status + letter)) if add else status
            elif name in LIST_CHANGES:
                entries = getattr(settings, LIST_CHANGES[name])
                if add:
                    entries[self.casefold(value)] = MaskEntry(value, set_by, event.time)
                else:
                    entries.pop(self.casefold(value), None)
            else:
                setattr(settings, name, value if name in VALUE_CHANGES else add)
        return [m.mind for m in group.members if m.mind is not None]

    def _apply_kicked(self, event: Kicked) -> Iterable[ChatClient]:
        return self._remove_member(event.group, event.user)

    def _apply_invited(self, event: Invited) -> Iterable[ChatClient]:
        """The invited user, and the group's operators but the inviter (IRC: invite-notify)."""
        event.group.invited.add(event.user)
        minds: dict[int, ChatClient] = {}
        if event.user.mind is not None:
            minds[id(event.user.mind)] = event.user.mind
        for member, status in event.group.members.items():
            if "o" in status and member is not event.by and member.mind is not None:
                minds[id(member.mind)] = member.mind
        return list(minds.values())

    def _apply_away_changed(self, event: AwayChanged) -> Iterable[ChatClient]:
        event.user.away = event.message
        return self._minds_sharing_groups(event.user, include_self=False)

    def _apply_realname_changed(self, event: RealnameChanged) -> Iterable[ChatClient]:
        event.user.realname = event.realname
        return self._minds_sharing_groups(event.user, include_self=True)

    def _apply_host_changed(self, event: HostChanged) -> Iterable[ChatClient]:
        event.user.username = event.username
        event.user.host = event.host
        return self._minds_sharing_groups(event.user, include_self=True)

    def _apply_user_flags_changed(self, event: UserFlagsChanged) -> Iterable[ChatClient]:
        user = event.user
        flags = set(user.flags)
        for flag, add in event.changes:
            if add:
                flags.add(flag)
            else:
                flags.discard(flag)
        user.flags = frozenset(flags) if flags else NO_FLAGS
        return (user.mind,) if user.mind is not None else ()

    def _apply_wallops(self, event: Wallops) -> Iterable[ChatClient]:
        return [
            u.mind for u in self.users.values() if u.mind is not None and "wallops" in u.flags
        ]

    def _apply_group_registered(self, event: GroupRegistered) -> tuple[ChatClient, ...]:
        event.group.founder = event.founder
        event.group.transient = False
        return ()

    def _apply_group_dropped(self, event: GroupDropped) -> tuple[ChatClient, ...]:
        group = event.group
        group.founder = None
        group.access.clear()
        group.transient = True
        if not group.members:
            self._follow_ups.append(GroupRemoved(group=group))
        return ()

    def _apply_access_changed(self, event: AccessChanged) -> tuple[ChatClient, ...]:
        if event.level is None:
            event.group.access.pop(event.account, None)
        else:
            event.group.access[event.account] = event.level
        return ()

    def _apply_account_changed(self, event: AccountChanged) -> Iterable[ChatClient]:
        event.user.account = event.account
        return self._minds_sharing_groups(event.user, include_self=True)

    @staticmethod
    def _minds_sharing_groups(user: User, *, include_self: bool) -> list[ChatClient]:
        """Each mind that shares a group with `user`, once (QUIT and NICK go out once)."""
        minds: dict[int, ChatClient] = {}
        if include_self and user.mind is not None:
            minds[id(user.mind)] = user.mind
        for group in user.groups.values():
            for member in group.members:
                if member is not user and member.mind is not None:
                    minds[id(member.mind)] = member.mind
        return list(minds.values())

    def _apply_group_created(self, event: GroupCreated) -> tuple[ChatClient, ...]:
        self.groups[event.group.folded] = event.group
        return ()

    def _apply_group_removed(self, event: GroupRemoved) -> tuple[ChatClient, ...]:
        self.groups.pop(event.group.folded, None)
        return ()

    def _apply_joined(self, event: Joined) -> Iterable[ChatClient]:
        group, user = event.group, event.user
        if group.founder is not None:
            account = self.casefold(user.account) if user.account else None
            level = "op" if account == group.founder else group.access.get(account or "")
            group.members[user] = {"op": "o", "voice": "v"}.get(level or "", "")
        else:
            first = not group.members
            claimed = self.first_joiner_op(group, user)
            op = first if claimed is None else claimed
            group.members[user] = "o" if op and self.op_first_joiner else ""
        user.groups[group.folded] = group
        group.invited.discard(user)
        return [m.mind for m in group.members if m.mind is not None]

    def _apply_left(self, event: Left) -> Iterable[ChatClient]:
        return self._remove_member(event.group, event.user)

    def _remove_member(self, group: Group, user: User) -> list[ChatClient]:
        """Take `user` out of `group` (PART, KICK); the minds to tell include the user's own."""
        minds = [m.mind for m in group.members if m.mind is not None]
        del group.members[user]
        del user.groups[group.folded]
        if group.transient and not group.members:
            self._follow_ups.append(GroupRemoved(group=group))
        return minds

    def _apply_said(self, event: Said) -> Iterable[ChatClient]:
        event.sender.last_message = event.time
        target = event.target
        if isinstance(target, Group):
            sender = event.sender
            if event.to_status:
                allowed = set(event.to_status)
                return [
                    m.mind for m, status in target.members.items()
                    if m is not sender and m.mind is not None and allowed.intersection(status)
                ]
            # A member without a mind (None) is skipped by _tell: None has no method.
            return [m.mind for m in target.members if m is not sender]
        return (target.mind,) if target.mind is not None else ()

    def _apply_meta_changed(self, event: MetaChanged) -> Iterable[ChatClient]:
        event.group.meta.update(event.changes)
        return [m.mind for m in event.group.members if m.mind is not None]
