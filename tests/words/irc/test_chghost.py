"""chghost over real sockets: an oper's CHGHOST, the CHGHOST line with the cap, the fallback without."""

from __future__ import annotations

import logging

import pytest
from support import RawClient, join, reply_to

from words.config import Oper
from words.cred import PasswordHasher
from words.realm import InMemoryWordsRealm
from words.realm.events import HostChanged

ROOT_HASH = PasswordHasher.from_config({"ln": 4}).hash("sesame")
HOST = "127.0.0.1"


@pytest.fixture
async def server(start_server):
    return await start_server(opers=(Oper("root", ROOT_HASH, hosts=("~user@127.0.0.1",)),))


@pytest.fixture
async def client(server):
    """`await client("alice", "chghost")`: a registered client with those caps."""
    clients: list[RawClient] = []

    async def open_(nick: str, caps: str = "") -> RawClient:
        c = await RawClient.connect(server.port)
        clients.append(c)
        c.nick = nick
        if caps:
            await c.send(f"CAP REQ :{caps}")
            await c.expect("CAP", "*", "ACK")
        await c.send(f"NICK {nick}")
        await c.send(f"USER user 0 * :Real {nick}")
        if caps:
            await c.send("CAP END")
        await c.expect("376", nick)
        return c

    yield open_
    for c in clients:
        await c.close()


async def oper(client: RawClient) -> None:
    await client.send("OPER root sesame")
    await client.expect("381")
    await client.until_pong()


async def lines(client: RawClient) -> list[str]:
    return [m.to_line() for m in await client.until_pong()]


async def test_chghost_is_offered(server):
    c = await RawClient.connect(server.port)
    try:
        await c.send("CAP LS 302")
        assert "chghost" in (await c.expect("CAP", "*", "LS")).params[-1].split()
    finally:
        await c.close()


async def test_with_the_cap_others_and_the_user_get_one_chghost_line(client):
    admin = await client("admin")
    bob = await client("bob", "chghost")
    carol = await client("carol", "chghost")
    await join(bob, "#a", "#b")
    await join(carol, "#a", "#b")
    await oper(admin)
    await bob.until_pong()
    await carol.until_pong()
    assert await reply_to(admin, "CHGHOST bob ~b ckyard.example") == [
        f":irc.test NOTICE admin :*** CHGHOST: bob!~user@{HOST} is now bob!~b@ckyard.example",
    ]
    # Two shared channels, one line.
    assert await lines(carol) == [f":bob!~user@{HOST} CHGHOST ~b ckyard.example"]
    assert await lines(bob) == [f":bob!~user@{HOST} CHGHOST ~b ckyard.example"]
    # Everything after it comes from the new mask.
    await bob.send("PRIVMSG #a :hi")
    assert await lines(carol) == [":bob!~b@ckyard.example PRIVMSG #a hi"]


async def test_without_the_cap_others_see_quit_then_join_and_mode_per_shared_channel(client):
    admin = await client("admin")
    bob = await client("bob")
    dave = await client("dave")
    await join(bob, "#b")  # bob gets @ in #b
    await join(dave, "#a", "#b", "#c")
    await join(bob, "#a")
    await bob.send("MODE #b +v bob")
    await bob.expect("MODE", "#b")
    await oper(admin)
    await dave.until_pong()
    await bob.until_pong()
    await admin.send("CHGHOST bob ~b ckyard.example")
    await admin.expect("NOTICE")
    assert await lines(dave) == [
        f":bob!~user@{HOST} QUIT :Changing host",
        ":bob!~b@ckyard.example JOIN #b",
        ":irc.test MODE #b +ov bob bob",
        ":bob!~b@ckyard.example JOIN #a",
    ]
    # The user itself, without chghost, is told its new host.
    assert await lines(bob) == [":irc.test 396 bob ckyard.example :is now your displayed host"]


async def test_the_fallback_keeps_extended_join_and_away_notify(client):
    admin = await client("admin")
    bob = await client("bob")
    erin = await client("erin", "extended-join away-notify")
    await join(bob, "#a")
    await join(erin, "#a")
    await bob.send("AWAY :lunch")
    await bob.expect("306")
    await oper(admin)
    await erin.until_pong()
    await admin.send("CHGHOST bob ~b vhost.example")
    await admin.expect("NOTICE")
    assert await lines(erin) == [
        f":bob!~user@{HOST} QUIT :Changing host",
        ":bob!~b@vhost.example JOIN #a * :Real bob",
        ":irc.test MODE #a +o bob",
        ":bob!~b@vhost.example AWAY lunch",
    ]


async def test_users_sharing_no_channel_hear_nothing(client):
    admin = await client("admin")
    await client("bob")
    frank = await client("frank", "chghost")
    await oper(admin)
    await frank.until_pong()
    await admin.send("CHGHOST bob ~b vhost.example")
    await admin.expect("NOTICE")
    assert await lines(frank) == []
    await frank.send("WHOIS bob")
    whois = await frank.expect("311")
    assert whois.params[2:4] == ["~b", "vhost.example"]


async def test_bans_still_match_the_real_address(client):
    admin = await client("admin")
    bob = await client("bob")
    await join(admin, "#a")
    await admin.send(f"MODE #a +b *!*@{HOST}")
    await admin.expect("MODE", "#a")
    await oper(admin)
    await admin.send("CHGHOST bob ~b vhost.example")
    await admin.expect("NOTICE")
    await bob.send("JOIN #a")
    assert (await bob.expect("474")).params[1] == "#a"


async def test_only_operators_may_chghost(client):
    alice = await client("alice")
    await client("bob")
    assert await reply_to(alice, "CHGHOST bob ~b vhost.example") == [
        ":irc.test 481 alice :Permission Denied- You're not an IRC operator",
    ]


async def test_chghost_refuses_unknown_nicks_bad_hosts_and_too_few_parameters(client):
    admin = await client("admin")
    await client("bob")
    await oper(admin)
    assert await reply_to(admin, "CHGHOST nobody u h.example") == [
        ":irc.test 401 admin nobody :No such nick/channel",
    ]
    assert await reply_to(admin, "CHGHOST bob u@x h.example") == [
        (":irc.test NOTICE admin :*** CHGHOST: 'u@x' is not a user name "
         "(up to 16 of A-Z a-z 0-9 - _ . ~)"),
    ]
    assert await reply_to(admin, "CHGHOST bob u bad!host") == [
        (":irc.test NOTICE admin :*** CHGHOST: 'bad!host' is not a host "
         "(up to 64 of A-Z a-z 0-9 - _ . /)"),
    ]
    assert await reply_to(admin, "CHGHOST bob u") == [
        ":irc.test 461 admin CHGHOST :Not enough parameters",
    ]
    assert await reply_to(admin, f"CHGHOST bob ~user {HOST}") == [
        f":irc.test NOTICE admin :*** CHGHOST: bob is already bob!~user@{HOST}",
    ]


async def test_chghost_is_logged(client, caplog):
    admin = await client("admin")
    await client("bob")
    await oper(admin)
    with caplog.at_level(logging.INFO, logger="words.irc"):
        await reply_to(admin, "CHGHOST bob ~b vhost.example")
    assert any(
        f"CHGHOST bob!~user@{HOST} to ~b@vhost.example by admin (oper root)" in r.getMessage()
        for r in caplog.records
    )


class Mind:
    def __init__(self) -> None:
        self.events: list = []

    def user_host_changed(self, event: HostChanged) -> None:
        self.events.append(event)


def test_the_realm_applies_host_changed_and_tells_the_user_and_those_sharing_a_group():
    realm = InMemoryWordsRealm("example.com", create_group_on_request=True)
    minds = [Mind(), Mind(), Mind()]
    bob, carol, _zoe = (
        realm.sign_on(name, mind, username="~u", host="h.example")  # type: ignore[arg-type]
        for name, mind in zip(("bob", "carol", "zoe"), minds)
    )
    group = realm.get_group("#a")
    realm.join(bob, group)
    realm.join(carol, group)
    seen = []
    realm.subscribe(seen.append)
    realm.set_host(bob, "~b", "vhost.example")
    assert (bob.username, bob.host, bob.real_host) == ("~b", "vhost.example", "h.example")
    event = seen[-1]
    assert isinstance(event, HostChanged)
    assert (event.old_username, event.old_host) == ("~u", "h.example")
    assert minds[0].events == [event] and minds[1].events == [event] and minds[2].events == []
    realm.set_host(bob, "~b", "vhost.example")  # no change: no event
    assert seen == [event]


async def test_a_rehash_that_changes_the_cloak_recloaks_everyone_with_chghost(tmp_path):
    from words.app import build_server
    from words.config import load_config
    from words.irc.cloak import cloak_host

    path = tmp_path / "words.yaml"
    base = "listen: ['127.0.0.1:0']\nhashing: {ln: 4}\n"
    path.write_text(base)
    server = build_server(load_config(path))
    await server.start()
    port = server.bound[0][1]
    bob, carol = await RawClient.connect(port), await RawClient.connect(port)
    try:
        bob.nick = "bob"
        await bob.send("CAP REQ :chghost")
        await bob.send("NICK bob")
        await bob.send("USER user 0 * :Real bob")
        await bob.send("CAP END")
        await bob.expect("376")
        await carol.register("carol")
        await join(bob, "#a")
        await join(carol, "#a")
        await bob.until_pong()
        cloak = cloak_host(HOST, "a-very-long-cloak-secret-for-tests", "ip")
        path.write_text(base + "cloak: {secret: a-very-long-cloak-secret-for-tests}\n")
        assert server.rehash() is None
        assert sorted(await lines(bob)) == sorted([
            f":bob!~user@{HOST} CHGHOST ~user {cloak}",
            f":carol!~user@{HOST} CHGHOST ~user {cloak}",
        ])
        got = await lines(carol)
        assert f":words.local 396 carol {cloak} :is now your displayed host" in got
        fallback = [line for line in got if " 396 " not in line]
        assert fallback == [
            f":bob!~user@{HOST} QUIT :Changing host",
            f":bob!~user@{cloak} JOIN #a",
            ":words.local MODE #a +o bob",
        ]
        # The same cloak again changes nothing.
        assert server.rehash() is None
        assert await lines(bob) == []
    finally:
        await bob.close()
        await carol.close()
        await server.stop()


async def test_a_recloak_keeps_a_vhost_given_by_chghost(tmp_path):
    from words.app import build_server
    from words.config import load_config

    path = tmp_path / "words.yaml"
    opers = f"opers: [{{name: root, password: '{ROOT_HASH}', hosts: ['~user@127.0.0.1']}}]\n"
    base = "listen: ['127.0.0.1:0']\nhashing: {ln: 4}\n" + opers
    path.write_text(base)
    server = build_server(load_config(path))
    await server.start()
    port = server.bound[0][1]
    admin, bob = await RawClient.connect(port), await RawClient.connect(port)
    try:
        await admin.register("admin")
        await bob.register("bob")
        await oper(admin)
        await admin.send("CHGHOST bob ~b vhost.example")
        await admin.expect("NOTICE")
        path.write_text(base + "cloak: {secret: a-very-long-cloak-secret-for-tests}\n")
        assert server.rehash() is None
        await admin.send("WHOIS bob")
        assert (await admin.expect("311")).params[2:4] == ["~b", "vhost.example"]
        await admin.send("WHOIS admin")
        assert (await admin.expect("311")).params[3].endswith(".ip")
    finally:
        await admin.close()
        await bob.close()
        await server.stop()
