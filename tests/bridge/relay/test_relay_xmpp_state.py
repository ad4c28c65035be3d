"""The XMPP side's room states, stanza by stanza, without a server: what a join sequence
makes news and what not (the end-to-end tests cannot time a stanza into the moment
between the join's last stanza and the join's end)."""

from __future__ import annotations

import slixmpp

from bridge.relay.config import parse_config
from bridge.relay.xmpp import XMPPSession

ROOM = "room@muc.example.org"


class RecordingPair:
    """A Pair's XMPP entry points, recorded."""

    def __init__(self, config) -> None:
        self.calls: list[tuple] = []
        self.config, self.room, self.options = config, config.room, config.options

    def __getattr__(self, name: str):
        if name.startswith("from_xmpp_"):
            return lambda *args: self.calls.append((name.removeprefix("from_xmpp_"), *args))
        raise AttributeError(name)


def session_and_pair() -> tuple[XMPPSession, RecordingPair]:
    config = parse_config({
        "irc": {"n": {"server": "irc.example.org", "nick": "relay"}},
        "xmpp": {"a": {"jid": "relay@example.org", "password": "pw"}},
        "pairs": [{"irc": "n", "channel": "#a", "xmpp": "a", "room": ROOM, "nick": "irc"}],
    }, "t.yaml")
    session = XMPPSession(config.xmpp["a"])
    pair = RecordingPair(config.pairs[0])
    session.add_pair(pair)  # type: ignore[arg-type]
    return session, pair


def presence(session, nick: str, *codes: int, ptype: str | None = None):
    pres = session.client.make_presence(pfrom=slixmpp.JID(f"{ROOM}/{nick}"), ptype=ptype)
    pres["muc"]["affiliation"] = "member"
    if codes:
        pres["muc"]["status_codes"] = set(codes)
    return pres


def message(session, nick: str, body: str = "", subject: str | None = None):
    msg = session.client.make_message(mto=slixmpp.JID("relay@example.org/r"), mbody=body or None,
                                      mtype="groupchat", mfrom=slixmpp.JID(f"{ROOM}/{nick}"))
    if subject is not None:
        msg["subject"] = subject
    return msg


async def test_a_join_sequence_is_not_news_and_what_follows_its_subject_is():
    session, pair = session_and_pair()
    room = session.rooms[ROOM]
    room.joining = True
    session._presence(presence(session, "carol"))
    session._message(message(session, "carol", "before we joined"))
    session._presence(presence(session, "irc", 110))
    assert room.current_nick == "irc"
    session._subject(message(session, "carol", subject="the subject"))
    assert room.live and not room.joined  # join_muc_wait() has not returned yet
    session._message(message(session, "carol", "right after the subject"))
    session._message(message(session, "irc", "our own reflection"))
    session._presence(presence(session, "dave"))
    session._subject(message(session, "carol", subject="a change"))
    assert pair.calls == [
        ("message", "carol", "right after the subject"),
        ("join", "dave"),
        ("subject", "carol", "a change"),
    ]


async def test_a_subject_before_our_own_presence_does_not_end_the_join():
    session, pair = session_and_pair()
    room = session.rooms[ROOM]
    room.joining = True
    session._subject(message(session, "carol", subject="stray"))
    assert not room.live
    session._message(message(session, "carol", "history without delay"))
    assert pair.calls == []


async def test_renames_and_leaves_once_live():
    session, pair = session_and_pair()
    room = session.rooms[ROOM]
    room.joined = room.live = True
    room.current_nick = "irc"
    room.occupants = {"carol"}
    pres = presence(session, "carol", 303, ptype="unavailable")
    pres["muc"]["item_nick"] = "carol2"  # <item nick="carol2"/>: the new nick
    session._presence(pres)
    session._presence(presence(session, "carol2"))  # the rename's second half: no join
    session._presence(presence(session, "carol2", ptype="unavailable"))
    assert pair.calls == [("rename", "carol", "carol2"), ("leave", "carol2", "")]
