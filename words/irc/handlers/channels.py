"""Channels: JOIN PART TOPIC NAMES LIST MODE."""

from __future__ import annotations

from typing import TYPE_CHECKING

from words.irc import numerics as N
from words.irc.commands import command
from words.irc.connection import user_prefix
from words.irc.handlers.chathistory import replay_on_join
from words.masks import match_mask
from words.names import valid_channel_name
from words.realm import Group, NoSuchGroup
from words.realm.errors import BadKey, Banned, GroupFull, InviteOnly, JoinRefused, NeedAccount

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection


_JOIN_REFUSALS = {
    Banned: (N.ERR_BANNEDFROMCHAN, "Cannot join channel (+b)"),
    InviteOnly: (N.ERR_INVITEONLYCHAN, "Cannot join channel (+i)"),
    BadKey: (N.ERR_BADCHANNELKEY, "Cannot join channel (+k)"),
    GroupFull: (N.ERR_CHANNELISFULL, "Cannot join channel (+l)"),
    NeedAccount: (N.ERR_NEEDREGGEDNICK, "Cannot join channel (+r) - you need to be logged in to an account"),
}


def insider(conn: IRCConnection, group: Group) -> bool:
    """Does this client see all of `group`: its members and opers do."""
    return conn.user in group.members or conn.oper is not None


def channel_visible(conn: IRCConnection, group: Group) -> bool:
    """May this client know that `group` exists: +s and +p hide it from outsiders."""
    settings = group.settings
    return not (settings.secret or settings.private) or insider(conn, group)


def find_channel(conn: IRCConnection, name: str) -> Group | None:
    """The channel called `name`, or None after sending 403."""
    group = conn.server.realm.find_group(name)
    if group is None:
        conn.numeric(N.ERR_NOSUCHCHANNEL, name, "No such channel")
    return group


@command("JOIN", min_params=1)
def handle_join(conn: IRCConnection, msg: Message) -> None:
    cluster = getattr(conn.server, "cluster", None)
    if cluster is not None:
        claims = cluster.channels_to_claim(msg.params[0].split(","))
        if claims:
            # A new channel's first joiner is op once across the nodes: claim, then join.
            conn.run_holding_input(_join_after_claims(conn, msg, cluster, claims))
            return
    join_channels(conn, msg)


async def _join_after_claims(conn: IRCConnection, msg: Message, cluster, claims: list[str]) -> None:
    await cluster.claim_channels(claims)
    try:
        if not conn.closing and conn.user is not None:
            join_channels(conn, msg)
    finally:
        cluster.end_channel_claims(claims)


def join_channels(conn: IRCConnection, msg: Message) -> None:
    user = conn.user
    assert user is not None
    realm = conn.server.realm
    limits = conn.server.config.limits
    if msg.params[0] == "0":
        for group in list(user.groups.values()):
            realm.leave(user, group, "Left all channels")
        return
    keys = msg.params[1].split(",") if len(msg.params) > 1 else []
    for i, name in enumerate(msg.params[0].split(",")):
        if not name:
            continue
        if not valid_channel_name(name, limits.channellen, conn.server.config.channel_charset):
            conn.numeric(N.ERR_NOSUCHCHANNEL, name, "No such channel")
            continue
        if realm.casefold(name) in user.groups:
            continue
        # Checked before get_group, which may create the channel: a refused
        # JOIN must not leave an empty channel behind.
        if len(user.groups) >= limits.max_channels_per_user:
            conn.numeric(N.ERR_TOOMANYCHANNELS, name, "You have joined too many channels")
            continue
        try:
            group = realm.get_group(name)
        except NoSuchGroup:
            conn.numeric(N.ERR_NOSUCHCHANNEL, name, "No such channel")
            continue
        if group.members:
            try:
                realm.check_join(user, group, keys[i] if i < len(keys) else None)
            except JoinRefused as refused:
                code, text = _JOIN_REFUSALS[type(refused)]
                if not conn.overrides(group, f"JOIN past {text[len('Cannot join channel '):]}"):
                    conn.numeric(code, group.name, text)
                    continue
        realm.join(user, group)
        send_topic(conn, group, on_join=True)
        send_names(conn, group)
        replay_on_join(conn, group)  # history.replay_on_join lines, after the burst


@command("PART", min_params=1)
def handle_part(conn: IRCConnection, msg: Message) -> None:
    user = conn.user
    assert user is not None
    reason = msg.params[1] if len(msg.params) > 1 else ""
    for name in msg.params[0].split(","):
        if not name:
            continue
        group = find_channel(conn, name)
        if group is None:
            continue
        if user not in group.members:
            conn.numeric(N.ERR_NOTONCHANNEL, group.name, "You're not on that channel")
            continue
        conn.server.realm.leave(user, group, reason)


def send_topic(conn: IRCConnection, group: Group, *, on_join: bool = False) -> None:
    topic = group.topic
    if not topic:
        if not on_join:  # on JOIN, no topic means no reply at all
            conn.numeric(N.RPL_NOTOPIC, group.name, "No topic is set")
        return
    conn.numeric(N.RPL_TOPIC, group.name, topic)
    conn.numeric(
        N.RPL_TOPICWHOTIME,
        group.name,
        group.meta.get("topic_author", conn.server.name),
        str(int(group.meta.get("topic_time", group.created))),
    )


@command("TOPIC", min_params=1)
def handle_topic(conn: IRCConnection, msg: Message) -> None:
    user = conn.user
    assert user is not None
    group = find_channel(conn, msg.params[0])
    if group is None:
        return
    if len(msg.params) == 1:
        send_topic(conn, group)
        return
    if user not in group.members:
        conn.numeric(N.ERR_NOTONCHANNEL, group.name, "You're not on that channel")
        return
    if group.settings.topic_locked and not conn.is_chanop(group):
        conn.numeric(N.ERR_CHANOPRIVSNEEDED, group.name, "You're not channel operator")
        return
    topic = msg.params[1][: conn.server.config.limits.topiclen]
    conn.server.realm.set_topic(group, topic, by=user)


def send_names(conn: IRCConnection, group: Group) -> None:
    """353 lines for `group`, packed under the line limit, then 366.

    A non-member is not shown +i members. multi-prefix shows every prefix
    (`@+nick`), userhost-in-names every `nick!user@host`.
    """
    # ":server 353 nick = #chan :" plus names; keep well under 512 bytes.
    room = 510 - len(conn.server.name) - len(conn.nick or "*") - len(group.name) - 16
    names: list[str] = []
    size = 0
    see_all = insider(conn, group)
    full = "userhost-in-names" in conn.caps  # nick!user@host entries
    for member in group.members:
        if not see_all and "invisible" in member.flags:
            continue
        entry = conn.prefixes(group, member) + (user_prefix(member) if full else member.name)
        if names and size + len(entry) + 1 > room:
            conn.numeric(N.RPL_NAMREPLY, "=", group.name, " ".join(names))
            names, size = [], 0
        names.append(entry)
        size += len(entry) + 1
    if names:
        conn.numeric(N.RPL_NAMREPLY, "=", group.name, " ".join(names))
    conn.numeric(N.RPL_ENDOFNAMES, group.name, "End of /NAMES list")


@command("NAMES")
def handle_names(conn: IRCConnection, msg: Message) -> None:
    if not msg.params:
        conn.numeric(N.RPL_ENDOFNAMES, "*", "End of /NAMES list")
        return
    for name in msg.params[0].split(","):
        group = conn.server.realm.find_group(name)
        if group is None or not channel_visible(conn, group):
            conn.numeric(N.RPL_ENDOFNAMES, name, "End of /NAMES list")
        else:
            send_names(conn, group)


@command("LIST")
def handle_list(conn: IRCConnection, msg: Message) -> None:
    """LIST [terms]: channel names or masks (M), !masks (N), >n and <n user counts (U)."""
    realm = conn.server.realm
    masks: list[str] = []
    negated: list[str] = []
    fewest, most = 0, None
    for term in msg.params[0].split(",") if msg.params else ():
        if term[:1] in "<>" and term[1:].isdecimal():
            if term[0] == ">":
                fewest = max(fewest, int(term[1:]) + 1)
            else:
                most = int(term[1:]) - 1 if most is None else min(most, int(term[1:]) - 1)
        elif term[:1] == "!" and len(term) > 1:
            negated.append(realm.casefold(term[1:]))
        elif term:
            masks.append(realm.casefold(term))
    if masks and not any("*" in m or "?" in m for m in masks):
        groups = [g for g in map(realm.find_group, masks) if g is not None]  # plain names
        masks = []
    else:
        groups = list(realm.groups.values())
    conn.numeric(N.RPL_LISTSTART, "Channel", "Users  Name")
    for group in groups:
        count = len(group.members)
        if (
            count < fewest
            or (most is not None and count > most)
            or (masks and not any(match_mask(m, group.folded) for m in masks))
            or any(match_mask(m, group.folded) for m in negated)
            or not channel_visible(conn, group)
        ):
            continue
        conn.numeric(N.RPL_LIST, group.name, str(count), group.topic)
    conn.numeric(N.RPL_LISTEND, "End of /LIST")
