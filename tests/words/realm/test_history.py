"""The realm's history: what is kept, the queries, retention, on the memory ring, SQLite and
PostgreSQL; and history surviving a restart of the SQL realm."""

from __future__ import annotations

import logging
import math
import time

import pytest
from support import RecordingMind, wait_until

from words.realm.events import millis
from words.realm.history import MESSAGE_KINDS, Entry, HistoryRecord, Ref, Retention
from words.realm.sql import SQLWordsRealm
from words.store.database import StoreError

KINDS = ["memory", "sqlite", "postgresql"]


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


async def realm_with_history(make_realm, kind, retention=None, **options):
    realm = await make_realm(kind, **options)
    realm.enable_history(retention)
    return realm


def texts(records):
    return [r.text for r in records]


async def chat(realm, *lines, channel="#chan"):
    """alice and bob in `channel`; alice says each line; returns (alice, bob, group)."""
    alice = realm.find_user("alice") or realm.sign_on("alice", RecordingMind(), username="a",
                                                      host="h")
    bob = realm.find_user("bob") or realm.sign_on("bob", RecordingMind(), username="b", host="h")
    group = realm.get_group(channel)
    realm.join(alice, group)
    realm.join(bob, group)
    for line in lines:
        realm.say(alice, group, line)
    return alice, bob, group


async def test_messages_and_events_are_kept_with_msgid_and_time(make_realm, kind):
    realm = await realm_with_history(make_realm, kind)
    before = time.time()
    alice, bob, group = await chat(realm)
    said = realm.say(alice, group, "hello", tags={"+draft/react": "x"})
    realm.say(bob, group, "waves", action=True)
    realm.say(alice, group, "psst", kind="notice")
    realm.set_topic(group, "a topic", by=alice)
    realm.change_settings(group, [("moderated", True, None), ("voice", True, bob)], by=alice)
    realm.rename(bob, "robert")
    realm.kick(group, bob, alice, "bye")
    realm.leave(alice, group, "later")
    records = await realm.history.latest("#CHAN", 50)
    assert [(r.kind, r.sender, r.text) for r in records] == [
        ("join", "alice", ""), ("join", "bob", ""), ("message", "alice", "hello"),
        ("message", "bob", "waves"), ("notice", "alice", "psst"), ("topic", "alice", "a topic"),
        ("mode", "alice", ""), ("nick", "bob", "robert"), ("kick", "alice", "bye"),
        ("part", "alice", "later"),
    ]
    message = records[2]
    assert message.msgid == said.msgid and message.time == said.time >= before
    assert message.tags == {"+draft/react": "x"} and message.sender_mask == "alice!a@h"
    assert message.target == "#chan"
    assert records[3].action
    assert records[6].changes == (("moderated", True, None), ("voice", True, "bob"))
    assert records[8].user == "robert"
    assert [r.time for r in records] == sorted(r.time for r in records)
    assert len({r.msgid for r in records}) == len(records)


async def test_a_quit_is_kept_in_each_channel_of_the_user(make_realm, kind):
    realm = await realm_with_history(make_realm, kind)
    _, bob, _ = await chat(realm, channel="#one")
    await chat(realm, channel="#two")
    realm.sign_off(bob, "gone")
    for channel in ("#one", "#two"):
        last = (await realm.history.latest(channel, 1))[0]
        assert (last.kind, last.sender, last.text) == ("quit", "bob", "gone")


async def test_statusmsg_and_typing_notifications_are_not_kept(make_realm, kind):
    realm = await realm_with_history(make_realm, kind)
    alice, _, group = await chat(realm)
    realm.say(alice, group, "ops only", to_status="o")
    realm.say(alice, group, "", kind="tagmsg", tags={"+typing": "active"})
    realm.say(alice, group, "", kind="tagmsg", tags={"+draft/react": "y"})
    kinds = [r.kind for r in await realm.history.latest("#chan", 10)]
    assert kinds == ["join", "join", "tagmsg"]


async def test_the_selectors(make_realm, kind):
    realm = await realm_with_history(make_realm, kind)
    await chat(realm, *[f"m{i}" for i in range(10)])
    h = realm.history
    only = {"kinds": MESSAGE_KINDS}
    everything = await h.latest("#chan", 100, **only)
    assert texts(everything) == [f"m{i}" for i in range(10)]
    ids = [r.msgid for r in everything]
    at = Ref(msgid=ids[5])
    assert texts(await h.latest("#chan", 3, **only)) == ["m7", "m8", "m9"]
    assert texts(await h.latest("#chan", 50, after=at, **only)) == ["m6", "m7", "m8", "m9"]
    assert texts(await h.latest("#chan", 2, after=at, **only)) == ["m8", "m9"]
    assert texts(await h.before("#chan", at, 3, **only)) == ["m2", "m3", "m4"]
    assert texts(await h.after("#chan", at, 3, **only)) == ["m6", "m7", "m8"]
    assert texts(await h.around("#chan", at, 4, **only)) == ["m3", "m4", "m5", "m6"]
    assert texts(await h.between("#chan", Ref(msgid=ids[1]), Ref(msgid=ids[6]), 3, **only)) == [
        "m2", "m3", "m4"]
    # Backwards: counted from the first reference, still oldest first.
    assert texts(await h.between("#chan", Ref(msgid=ids[6]), Ref(msgid=ids[1]), 3, **only)) == [
        "m3", "m4", "m5"]
    # Timestamps have milliseconds: before the millisecond of m5, and after it (from the
    # next millisecond on).
    when = Ref(time=everything[5].time)
    earlier = [r.text for r in everything if millis(r.time) < millis(when.time)]
    assert texts(await h.before("#chan", when, 20, **only)) == earlier
    later = [r.text for r in everything if millis(r.time) > millis(when.time)]
    assert texts(await h.after("#chan", when, 20, **only)) == later
    assert texts(await h.after("#chan", Ref(time=everything[0].time - 1), 2, **only)) == [
        "m0", "m1"]
    # An unknown msgid matches nothing; kinds=None gives the joins too.
    assert await h.before("#chan", Ref(msgid="nope"), 5) == []
    assert [r.kind for r in await h.latest("#chan", 12)][:2] == ["join", "join"]


async def test_timestamps_select_by_the_millisecond_shown(make_realm, kind):
    # m0..m2 in one millisecond, m3..m5 in a later one: a timestamp splits them exactly,
    # at the bounds too (records are compared as their time is shown, `millis`).
    realm = await realm_with_history(make_realm, kind)
    alice, _, group = await chat(realm, "m0", "m1", "m2")
    first = await realm.history.latest("#chan", 1)
    await wait_until(lambda: millis(time.time()) > millis(first[0].time), "the next millisecond")
    for line in ("m3", "m4", "m5"):
        realm.say(alice, group, line)
    h, only = realm.history, {"kinds": MESSAGE_KINDS}
    everything = await h.latest("#chan", 20, **only)
    shown = [millis(r.time) for r in everything]
    assert shown[2] < shown[3]
    # The reference is the millisecond of m3, as a client sends it back (a float of it).
    at = Ref(time=shown[3] / 1000)
    assert texts(await h.before("#chan", at, 20, **only)) == [
        r.text for r, ms in zip(everything, shown) if ms < shown[3]]
    assert texts(await h.after("#chan", at, 20, **only)) == [
        r.text for r, ms in zip(everything, shown) if ms > shown[3]]
    assert texts(await h.around("#chan", at, 20, **only))[-3:] == ["m3", "m4", "m5"]
    assert "m2" in texts(await h.before("#chan", at, 20, **only))


def test_millis_and_millisecond_start():
    from words.realm.events import millisecond_start

    assert millis(1.001) == 1001 and millis(0.0) == 0 and millis(1795326062.1239) == 1795326062123
    for ms in (1, 999, 1001, 1795326062123, 1795326062999):
        start = millisecond_start(ms)
        assert millis(start) == ms and millis(math.nextafter(start, -math.inf)) == ms - 1
        assert millis(ms / 1000) == ms  # a client's timestamp is its own millisecond


async def test_private_conversations_belong_to_their_two_parties(make_realm, kind):
    realm = await realm_with_history(make_realm, kind)
    alice = realm.sign_on("alice", RecordingMind(), account="Alice")
    bob = realm.sign_on("bob", RecordingMind())
    carol = realm.sign_on("carol", RecordingMind())
    realm.say(alice, bob, "hi bob")
    realm.say(bob, alice, "hi alice")
    realm.say(carol, bob, "hi from carol")
    h = realm.history
    key = h.private_key(h.party(alice), h.party(bob))
    assert h.party(alice) == "@alice" and key == "@alice bob"
    assert texts(await h.latest(key, 10)) == ["hi bob", "hi alice"]
    assert texts(await h.latest(h.private_key("bob", "carol"), 10)) == ["hi from carol"]
    assert await h.latest_times([], "bob", 0, time.time() + 1, 10) == [
        ("alice", (await h.latest(key, 1))[0].time),
        ("carol", (await h.latest(h.private_key("bob", "carol"), 1))[0].time),
    ]
    assert [name for name, _ in await h.latest_times([], "@alice", 0, time.time() + 1, 10)] == [
        "bob"]


async def test_targets_of_channels_and_private_conversations(make_realm, kind):
    realm = await realm_with_history(make_realm, kind)
    h = realm.history
    alice, bob, group = await chat(realm, "in chan")
    await chat(realm, "in other", channel="#other")
    await chat(realm, channel="#quiet")  # JOINs only: no message, not a target
    realm.say(bob, alice, "psst")
    realm.say(alice, group, "in chan again")
    latest = {key: (await h.latest(key, 1, kinds=MESSAGE_KINDS))[0].time
              for key in ("#chan", "#other", h.private_key("alice", "bob"))}
    channels = ["#chan", "#other", "#quiet"]
    end = time.time() + 1
    # Oldest first by each conversation's latest message; channels by name, people by nick.
    assert await h.latest_times(channels, "alice", 0, end, 10) == [
        ("#other", latest["#other"]), ("bob", latest["alice bob"]), ("#chan", latest["#chan"])]
    assert await h.latest_times(channels, None, 0, end, 10) == [
        ("#other", latest["#other"]), ("#chan", latest["#chan"])]
    assert await h.latest_times(["#chan"], "alice", 0, end, 1) == [("bob", latest["alice bob"])]
    # The window is exclusive at both ends.
    assert await h.latest_times(channels, "alice", latest["#other"], end, 10) == [
        ("bob", latest["alice bob"]), ("#chan", latest["#chan"])]
    first = (await h.latest("#chan", 10, kinds=MESSAGE_KINDS))[0]
    assert first.text == "in chan"  # the latest of #chan before the end of the window
    assert await h.latest_times(channels, "alice", 0, latest["#other"], 10) == [
        ("#chan", first.time)]
    # `since`: private conversations only from then on (a user without an account).
    assert await h.latest_times(channels, "alice", 0, end, 10, since=end) == [
        ("#other", latest["#other"]), ("#chan", latest["#chan"])]


async def test_services_and_disabled_private_history_keep_nothing(make_realm, kind):
    realm = await make_realm(kind)
    realm.enable_history(private=False)
    alice, bob = realm.sign_on("alice", RecordingMind()), realm.sign_on("bob", RecordingMind())
    realm.say(alice, bob, "secret")
    assert await realm.history.latest(realm.history.private_key("alice", "bob"), 5) == []
    realm.history.private = True
    realm.history.skip_private = lambda user: user.name == "NickServ"
    nickserv = realm.sign_on("NickServ", RecordingMind())
    realm.say(alice, nickserv, "REGISTER hunter2")
    assert await realm.history.latest(realm.history.private_key("alice", "nickserv"), 5) == []


async def test_retention_by_count_per_conversation_with_overrides(make_realm, kind):
    retention = Retention(lines=5, age=None, channels={"#big": (8, None)})
    realm = await realm_with_history(make_realm, kind, retention)
    await chat(realm, *[f"m{i}" for i in range(12)])
    await chat(realm, *[f"b{i}" for i in range(12)], channel="#big")
    await realm.history.flush()
    assert texts(await realm.history.latest("#chan", 100)) == [f"m{i}" for i in range(7, 12)]
    assert texts(await realm.history.latest("#big", 100)) == [f"b{i}" for i in range(4, 12)]
    if kind != "memory":  # pruned in the table itself, not only hidden
        from sqlalchemy import func, select

        from words.store.schema import history

        count = realm.db.run_sync(lambda conn: conn.execute(
            select(func.count()).select_from(history).where(history.c.conversation == "#chan")
        ).scalar(), "counting")
        assert count == 5


async def test_retention_by_age(make_realm, kind):
    retention = Retention(lines=100, age=3600.0, channels={"#keep": (100, None)})
    realm = await realm_with_history(make_realm, kind, retention)
    now = time.time()

    def said(key, text, when):
        return Entry(key, HistoryRecord(f"{key}{text}", when, "message", "alice", "alice!a@h",
                                        key, text))

    # Event times never go backwards, so old records are stored as such.
    realm.history.store([said("#chan", "old", now - 7200), said("#keep", "old kept", now - 7200),
                         said("#chan", "new", now), said("#keep", "new kept", now)])
    await realm.history.flush()
    assert texts(await realm.history.latest("#chan", 10)) == ["new"]
    assert texts(await realm.history.latest("#keep", 10)) == ["old kept", "new kept"]
    if kind != "memory":  # deleted from the table, not only hidden by the reads
        assert table_texts(realm) == {"#chan": ["new"], "#keep": ["old kept", "new kept"]}


def table_texts(realm) -> dict[str, list[str]]:
    """What the SQL realm's history table holds: conversation -> texts, in order."""
    import json

    from sqlalchemy import select

    from words.store.schema import history

    rows = realm.db.run_sync(lambda conn: conn.execute(
        select(history.c.conversation, history.c.data).order_by(history.c.id)).all(), "reading")
    found: dict[str, list[str]] = {}
    for conversation, data in rows:
        found.setdefault(conversation, []).append(json.loads(data).get("text", ""))
    return found


async def test_past_membership(make_realm, kind):
    realm = await realm_with_history(make_realm, kind)
    alice = realm.sign_on("alice", RecordingMind(), account="Alice")
    group = realm.get_group("#chan")
    realm.join(alice, group)
    assert await realm.history.membership("#chan", "alice") == (True, None)
    realm.leave(alice, group)
    joined, left = await realm.history.membership("#chan", "alice")
    assert joined and left == (await realm.history.latest("#chan", 1))[0].time
    assert await realm.history.membership("#chan", "bob") == (False, None)


async def test_a_past_member_is_known_after_its_join_was_pruned(make_realm, kind):
    # Its leaving proves the membership: a long-time member of a busy channel that
    # leaves is a past member, though its JOIN went long ago.
    realm = await realm_with_history(make_realm, kind, Retention(lines=4, age=None))
    alice = realm.sign_on("alice", RecordingMind(), account="Alice")
    _, bob, group = await chat(realm)
    realm.join(alice, group)
    for i in range(5):
        realm.say(bob, group, f"m{i}")
    realm.leave(alice, group, "bye")
    await realm.history.flush()
    kept = await realm.history.latest("#chan", 10)
    assert [(r.kind, r.text) for r in kept] == [
        ("message", "m2"), ("message", "m3"), ("message", "m4"), ("part", "bye")]
    assert await realm.history.membership("#chan", "alice") == (True, kept[-1].time)
    # Joined again and quit: the last leaving counts.
    realm.join(alice, group)
    assert await realm.history.membership("#chan", "alice") == (True, None)
    realm.sign_off(alice, "gone")
    quit_record = (await realm.history.latest("#chan", 1))[0]
    assert await realm.history.membership("#chan", "alice") == (True, quit_record.time)
    # Once that is pruned too, so is everything before it: nothing of it is left.
    for i in range(4):
        realm.say(bob, group, f"n{i}")
    await realm.history.flush()
    assert await realm.history.membership("#chan", "alice") == (False, None)


async def test_sql_history_survives_a_restart(tmp_path):
    url = f"sqlite:///{tmp_path / 'words.db'}"
    realm = SQLWordsRealm("example.com", url, create_group_on_request=True)
    await realm.open()
    realm.enable_history()
    await chat(realm, "before the restart")
    said = (await realm.history.latest("#chan", 1))[0]
    await realm.close()

    realm = SQLWordsRealm("example.com", url, create_group_on_request=True)
    await realm.open()
    realm.enable_history()
    again = (await realm.history.latest("#chan", 1))[0]
    assert again == said
    await realm.close()


async def sql_realm(tmp_path):
    realm = SQLWordsRealm("example.com", f"sqlite:///{tmp_path / 'words.db'}",
                          create_group_on_request=True)
    await realm.open()
    realm.enable_history()
    return realm


def failing(realm, monkeypatch, times, *, transient):
    """The database thread fails the next `times` transactions (then works again)."""
    real = realm.db.run_sync
    left = [times]

    def run_sync(fn, what):
        if left[0] > 0:
            left[0] -= 1
            raise StoreError(f"database error while {what}: OperationalError", transient=transient)
        return real(fn, what)

    monkeypatch.setattr(realm.db, "run_sync", run_sync)


async def test_while_the_database_is_away_history_waits_and_chat_goes_on(tmp_path, monkeypatch):
    realm = await sql_realm(tmp_path)
    mind = RecordingMind()
    alice, bob, group = await chat(realm)
    await realm.history.flush()
    bob.mind = mind
    failing(realm, monkeypatch, 3, transient=True)
    realm.say(alice, group, "while away")
    realm.say(alice, group, "still away")
    assert mind.kinds() == ["receive", "receive"]  # delivered at once
    await wait_until(lambda: realm.history.waiting == 0 and not realm.history._writes,
                     "the waiting records to be written")
    assert texts(await realm.history.latest("#chan", 10, kinds=MESSAGE_KINDS)) == [
        "while away", "still away"]
    await realm.close()


async def test_beyond_max_waiting_the_oldest_records_are_dropped(tmp_path, monkeypatch, caplog):
    realm = await sql_realm(tmp_path)
    alice, _, group = await chat(realm)
    await realm.history.flush()
    monkeypatch.setattr("words.store.history.MAX_WAITING", 2)
    failing(realm, monkeypatch, 1, transient=True)
    with caplog.at_level(logging.ERROR, logger="words.store"):
        for text in ("one", "two", "three"):
            realm.say(alice, group, text)
        await realm.history.flush()  # fails: all three wait, one too many
        await wait_until(lambda: realm.history.waiting == 0 and not realm.history._writes,
                         "the waiting records to be written")
    assert texts(await realm.history.latest("#chan", 10, kinds=MESSAGE_KINDS)) == ["two", "three"]
    assert "the database is away: 1 history records dropped (more than 2 waiting)" in [
        r.getMessage() for r in caplog.records]
    await realm.close()


async def test_a_refused_write_is_logged_and_chat_goes_on(tmp_path, monkeypatch, caplog):
    realm = await sql_realm(tmp_path)
    mind = RecordingMind()
    alice, bob, group = await chat(realm)
    await realm.history.flush()
    bob.mind = mind
    failing(realm, monkeypatch, 1, transient=False)
    with caplog.at_level(logging.ERROR, logger="words.store"):
        realm.say(alice, group, "lost")
        await realm.history.flush()
    realm.say(alice, group, "kept")
    assert mind.kinds() == ["receive", "receive"]
    assert any(r.getMessage().startswith("1 history records were not stored")
               for r in caplog.records)
    assert texts(await realm.history.latest("#chan", 10, kinds=MESSAGE_KINDS)) == ["kept"]
    await realm.close()


async def test_the_sql_realm_of_a_cluster_keeps_only_its_own_events(make_realm):
    realm = await realm_with_history(make_realm, "sqlite")
    alice, _, group = await chat(realm)
    realm.applying_remote = True  # words.cluster applies another node's event
    realm.say(alice, group, "stored by the other node")
    realm.applying_remote = False
    realm.say(alice, group, "ours")
    assert texts(await realm.history.latest("#chan", 10, kinds=MESSAGE_KINDS)) == ["ours"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_sql_history_is_in_time_order_whatever_order_it_was_stored_in(make_realm, backend):
    """In a cluster every node writes its own events behind into the one table, so a
    message may be stored after a later one of another node: queries go by time."""
    from words.realm.events import Said

    realm = await realm_with_history(make_realm, backend)
    alice, bob, group = await chat(realm)
    first = realm.say(alice, group, "one")
    third = realm.say(alice, group, "three")
    # Another node's message, said between the two, stored after them.
    second = Said(sender=bob, target=group, text="two", time=(first.time + third.time) / 2)
    realm.apply(second)
    fourth = realm.say(alice, group, "four")
    history = realm.history
    everything = await history.latest("#chan", 10, kinds=MESSAGE_KINDS)
    assert texts(everything) == ["one", "two", "three", "four"]
    assert [r.msgid for r in everything] == [first.msgid, second.msgid, third.msgid, fourth.msgid]
    assert texts(await history.latest("#chan", 2, kinds=MESSAGE_KINDS)) == ["three", "four"]
    assert texts(await history.after("#chan", Ref(msgid=first.msgid), 2,
                                     kinds=MESSAGE_KINDS)) == ["two", "three"]
    assert texts(await history.before("#chan", Ref(msgid=third.msgid), 5,
                                      kinds=MESSAGE_KINDS)) == ["one", "two"]
    assert texts(await history.around("#chan", Ref(msgid=second.msgid), 3,
                                      kinds=MESSAGE_KINDS)) == ["one", "two", "three"]
    assert texts(await history.between("#chan", Ref(msgid=fourth.msgid), Ref(msgid=first.msgid),
                                       10, kinds=MESSAGE_KINDS)) == ["two", "three"]
