"""Other nodes' users in this node's realm, and their events applied here.

A user signed on at another node is a `User` of this realm whose mind is that
node's `RemoteMind`: it has none of the ChatClient methods, so the realm skips
it when delivering (its own node delivers to it). Everything else (channels,
NAMES, WHO, WHOIS, bans, MONITOR) treats it like any user.

`RemoteApplier.apply` turns a message from the wire (wire.py) back into a
realm event with this node's objects and applies it. Each applier checks the
state first and does nothing when the change is already there: a node that
joins loads a snapshot, then applies the events that raced with it, and some
of those are already in the snapshot.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from words.cluster.wire import MEMBER_CHANGES, stamp
from words.realm.events import (
    AccessChanged,
    AccountChanged,
    AwayChanged,
    GroupCreated,
    GroupDropped,
    GroupRegistered,
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
    UserFlagsChanged,
    Wallops,
)
from words.realm.model import Group, MaskEntry, User
from words.realm.service import FLAG_CHANGES, WordsRealm
from words.store.serverbans import ServerBanRecord

log = logging.getLogger("words.cluster")


class RemoteMind:
    """The mind of every user of one other node: delivers nothing (that node does)."""

    __slots__ = ("node",)
    remote = True  # services and front ends test this (no IRC connection behind it)

    def __init__(self, node: str) -> None:
        self.node = node

    def __repr__(self) -> str:
        return f"<RemoteMind {self.node}>"


def remote_node(user: User) -> str | None:
    """The node `user` is signed on at, if it is another node."""
    mind = user.mind
    return mind.node if type(mind) is RemoteMind else None


class RemoteApplier:
    """Applies other nodes' messages to this node's realm."""

    def __init__(self, realm: WordsRealm, node: str,
                 on_chan_token: Callable[[str, str], None]) -> None:
        self.realm = realm
        self.node = node  # this node's name
        self.minds: dict[str, RemoteMind] = {}
        self._on_chan_token = on_chan_token  # (folded channel, first-op claim token)
        self._appliers: dict[str, Callable[[str, dict[str, Any]], None]] = {
            "on": self._signed_on, "quit": self._quit, "nick": self._renamed,
            "chan": self._group_created, "join": self._joined, "part": self._left,
            "kick": self._kicked, "msg": self._said, "meta": self._meta,
            "mode": self._settings, "invite": self._invited, "away": self._away,
            "umode": self._user_flags, "wallops": self._wallops, "reg": self._registered,
            "drop": self._dropped, "access": self._access, "account": self._account,
            "setname": self._realname, "host": self._host, "sban": self._server_ban,
        }

    def mind(self, node: str) -> RemoteMind:
        mind = self.minds.get(node)
        if mind is None:
            mind = self.minds[node] = RemoteMind(node)
        return mind

    def apply(self, data: dict[str, Any]) -> None:
        applier = self._appliers.get(data.get("t", ""))
        if applier is None:
            log.debug("ignored a cluster message of type %r", data.get("t"))
            return
        realm = self.realm
        realm.applying_remote = True
        try:
            applier(data["n"], data)
        finally:
            realm.applying_remote = False

    def users_of(self, node: str) -> list[User]:
        mind = self.minds.get(node)
        return [u for u in self.realm.users.values() if u.mind is mind] if mind else []

    def quit_node(self, node: str, reason: str) -> int:
        """Sign off every user of `node` here (it died, restarted or left); how many."""
        users = self.users_of(node)
        self.realm.applying_remote = True
        try:
            for user in users:
                if user.mind is not None:
                    self.realm.apply(Quit(user=user, reason=reason))
        finally:
            self.realm.applying_remote = False
        self.minds.pop(node, None)
        return len(users)

    # -- users ---------------------------------------------------------------------

    def _user(self, name: str | None) -> User | None:
        if name is None:
            return None
        user = self.realm.find_user(name)
        return user if user is not None and user.mind is not None else None

    def sign_on(self, node: str, data: dict[str, Any], when: float | None = None) -> User | None:
        realm = self.realm
        name = data["u"]
        folded = realm.casefold(name)
        user = realm.users.get(folded)
        mind = self.mind(node)
        if user is not None and user.mind is not None:
            old = user.mind
            if type(old) is not RemoteMind or old is mind:
                # One of ours: claims make this impossible unless a node lost Redis for a
                # while (or a gateway user raced for the nick).
                if old is not mind:
                    log.warning("node %s signed on %s, already on %r here: ignored", node, name, old)
                return None
            # Another node's user: `node` holds the claim now, so that user is gone and this
            # node has not heard yet (its node died and was cleaned up by another node first).
            log.info("node %s signed on %s, still shown here on %s: replaced", node, name, old.node)
            realm.apply(Quit(user=user, reason=f"*.net *.split {old.node} lost"))
            user = realm.users.get(folded)
        if user is None:
            user = User(name=name, folded=folded, transient=True)
        user.mind = mind
        user.username, user.host = data.get("un", ""), data.get("h", "")
        user.real_host = data.get("rh") or user.host
        user.realname = data.get("r", "")
        user.account = data.get("a")
        user.signed_on = user.last_message = data.get("so") or data.get("ts") or 0.0
        user.flags = set(data.get("f", ()))
        user.away = data.get("aw")
        user.certificate = None
        kwargs = {"time": when} if when else {}
        realm.apply(SignedOn(user=user, **kwargs))
        return user

    def _signed_on(self, node: str, data: dict[str, Any]) -> None:
        self.sign_on(node, data, data.get("ts"))

    def _quit(self, node: str, data: dict[str, Any]) -> None:
        user = self._user(data["u"])
        if user is None:
            return
        # Whose user the QUIT is for: the sender's own, or the one its KILL names. A node
        # that was cut off may still send a QUIT of a nick that another node's user holds
        # now (the nick was claimed again meanwhile): that one is not this user.
        home = data.get("h", node)
        if home != (remote_node(user) or self.node):
            log.info("node %s quit %s of node %s, but %s is %s's user now: ignored",
                     node, data["u"], home, user.name, remote_node(user) or self.node)
            return
        reason = data.get("r", "")
        if type(user.mind) is not RemoteMind:
            # Our own user, ended from another node (KILL): its connection says goodbye.
            # A mind that cannot close (a service: one runs on every node) stays.
            close = getattr(user.mind, "close", None)
            if callable(close):
                close(reason)
            return
        self.realm.apply(Quit(user=user, reason=reason, **stamp(data)))

    def _renamed(self, node: str, data: dict[str, Any]) -> None:
        user = self._user(data["u"])
        new = data["v"]
        if user is None or user.name == new:
            return
        other = self.realm.find_user(new)
        if other is not None and other is not user:
            log.warning("node %s renamed %s to %s, taken here: ignored", node, user.name, new)
            return
        self.realm.apply(Renamed(user=user, old_name=user.name, new_name=new, **stamp(data)))

    def _away(self, node: str, data: dict[str, Any]) -> None:
        user = self._user(data["u"])
        if user is not None and user.away != data.get("m"):
            self.realm.apply(AwayChanged(user=user, message=data.get("m"), **stamp(data)))

    def _user_flags(self, node: str, data: dict[str, Any]) -> None:
        user = self._user(data["u"])
        if user is None:
            return
        changes = [(flag, bool(add)) for flag, add in data["c"] if (flag in user.flags) != bool(add)]
        if changes:
            self.realm.apply(UserFlagsChanged(user=user, changes=changes, by=self._user(data.get("b")),
                                              **stamp(data)))

    def _account(self, node: str, data: dict[str, Any]) -> None:
        user = self._user(data["u"])
        if user is not None and user.account != data.get("a"):
            self.realm.apply(AccountChanged(user=user, account=data.get("a"), old=user.account,
                                            **stamp(data)))

    def _realname(self, node: str, data: dict[str, Any]) -> None:
        user = self._user(data["u"])
        if user is not None and user.realname != data["r"]:
            self.realm.apply(RealnameChanged(user=user, realname=data["r"], **stamp(data)))

    def _host(self, node: str, data: dict[str, Any]) -> None:
        user = self._user(data["u"])
        if user is not None and (user.username, user.host) != (data["un"], data["h"]):
            self.realm.apply(HostChanged(user=user, old_username=user.username, old_host=user.host,
                                         username=data["un"], host=data["h"], **stamp(data)))

    def _server_ban(self, node: str, data: dict[str, Any]) -> None:
        # Stored by the node that set it (the database is shared): here it is put in force.
        kind, mask = data["k"], data["m"]
        ban = ServerBanRecord(kind, mask, *data["b"]) if data.get("b") else None
        self.realm.apply(ServerBanChanged(kind=kind, mask=mask, ban=ban, **stamp(data)))

    def _wallops(self, node: str, data: dict[str, Any]) -> None:
        self.realm.apply(Wallops(sender=self._user(data.get("s")), text=data["x"], **stamp(data)))

    # -- channels ------------------------------------------------------------------

    def group(self, name: str, created: float | None = None, transient: bool = True) -> Group:
        realm = self.realm
        group = realm.find_group(name)
        if group is None:
            group = Group(name=name, folded=realm.casefold(name), transient=transient)
            if created:
                group.created = created
            realm.apply(GroupCreated(group=group))
        return group

    def _group_created(self, node: str, data: dict[str, Any]) -> None:
        self.group(data["g"], data.get("c"), data.get("tr", True))

    def join(self, group: Group, user: User, status: str, when: float | None = None,
             msgid: str | None = None) -> None:
        if user not in group.members:
            kwargs: dict[str, Any] = {"time": when} if when else {}
            if msgid:
                kwargs["msgid"] = msgid
            self.realm.apply(Joined(group=group, user=user, **kwargs))
        # The joining node decided the status (first joiner op, access list): keep its word.
        group.members[user] = status

    def _joined(self, node: str, data: dict[str, Any]) -> None:
        user = self._user(data["u"])
        if user is None:
            return
        group = self.group(data["g"], data.get("c"))
        if data.get("k"):
            self._on_chan_token(group.folded, data["k"])
        self.join(group, user, data.get("s", ""), data["ts"], data.get("id"))

    def _member(self, data: dict[str, Any]) -> tuple[Group, User] | None:
        group = self.realm.find_group(data["g"])
        user = self._user(data["u"])
        if group is None or user is None or user not in group.members:
            return None
        return group, user

    def _left(self, node: str, data: dict[str, Any]) -> None:
        found = self._member(data)
        if found is not None:
            self.realm.apply(Left(group=found[0], user=found[1], reason=data.get("r", ""),
                                  **stamp(data)))

    def _kicked(self, node: str, data: dict[str, Any]) -> None:
        found = self._member(data)
        if found is not None:
            self.realm.apply(Kicked(group=found[0], user=found[1], by=self._user(data.get("b")),
                                    reason=data.get("r", ""), **stamp(data)))

    def _said(self, node: str, data: dict[str, Any]) -> None:
        sender = self._user(data["s"])
        if sender is None:
            return
        target: User | Group | None
        if "g" in data:
            target = self.realm.find_group(data["g"])
        else:
            target = self._user(data["u"])
        if target is None:
            return
        self.realm.apply(Said(
            sender=sender, target=target, text=data["x"], kind=data.get("k", "message"),
            action=bool(data.get("a")), to_status=data.get("st", ""), tags=data.get("tg"),
            **stamp(data),
        ))

    def _meta(self, node: str, data: dict[str, Any]) -> None:
        group = self.realm.find_group(data["g"])
        if group is not None:
            self.realm.apply(MetaChanged(group=group, changes=data["c"], by=self._user(data.get("b")),
                                         **stamp(data)))

    def _settings(self, node: str, data: dict[str, Any]) -> None:
        group = self.realm.find_group(data["g"])
        if group is None:
            return
        changes = []
        for name, add, value in data["c"]:
            if name in MEMBER_CHANGES:
                value = self._user(value)
                if value is None or value not in group.members:
                    continue
            changes.append((name, bool(add), value))
        if changes:
            self.realm.apply(SettingsChanged(group=group, changes=changes,
                                             by=self._user(data.get("b")), **stamp(data)))

    def _invited(self, node: str, data: dict[str, Any]) -> None:
        group = self.realm.find_group(data["g"])
        user, by = self._user(data["u"]), self._user(data["b"])
        if group is not None and user is not None and by is not None:
            self.realm.apply(Invited(group=group, user=user, by=by, **stamp(data)))

    def _registered(self, node: str, data: dict[str, Any]) -> None:
        group = self.realm.find_group(data["g"])
        if group is not None and group.founder is None:
            self.realm.apply(GroupRegistered(group=group, founder=data["f"], **stamp(data)))

    def _dropped(self, node: str, data: dict[str, Any]) -> None:
        group = self.realm.find_group(data["g"])
        if group is not None and group.founder is not None:
            self.realm.apply(GroupDropped(group=group, **stamp(data)))

    def _access(self, node: str, data: dict[str, Any]) -> None:
        group = self.realm.find_group(data["g"])
        if group is not None:
            self.realm.apply(AccessChanged(group=group, account=data["a"], level=data.get("l"),
                                           **stamp(data)))

    # -- a snapshot's channel record ----------------------------------------------------

    def load_group(self, record: dict[str, Any]) -> Group:
        """Create (or update) a channel from its `chans` record: topic, modes, lists."""
        group = self.group(record["g"], record.get("c"), record.get("tr", True))
        group.meta.update(record.get("m") or {})
        settings = group.settings
        for name, value in (record.get("s") or {}).items():
            if name in FLAG_CHANGES or name in ("key", "limit"):
                setattr(settings, name, value)
        casefold = self.realm.casefold
        for kind, entries in (record.get("l") or {}).items():
            target = getattr(settings, kind, None)
            if target is None:
                continue
            target.clear()
            for mask, set_by, set_at in entries:
                target[casefold(mask)] = MaskEntry(mask, set_by, set_at)
        if record.get("fo"):
            group.founder = record["fo"]
            group.transient = False
            group.access.update(record.get("ac") or {})
        return group
