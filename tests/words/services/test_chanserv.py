"""ChanServ through real sockets: registering channels, access lists, status, DROP.

Founders and access lists are applied on join by the realm; in the SQL realm
they survive a restart (the last test).
"""

from __future__ import annotations

import pytest
import support
from support import RawClient, join

from words.cred import PasswordHasher

HASHER = PasswordHasher(ln=4)


async def client_for(server, nick: str, password: str | None = None) -> RawClient:
    client = await RawClient.connect(server.port)
    await client.register(nick, password)
    return client


async def tell(client: RawClient, text: str, service: str = "ChanServ") -> None:
    await support.tell(client, text, service)


async def notice(client: RawClient, contains: str, service: str = "ChanServ") -> str:
    return await support.service_notice(client, contains, service)


@pytest.fixture
async def clients():
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        await client.close()


@pytest.fixture
async def accounts_server(start_server):
    server = await start_server()
    for name in ("alice", "bob", "carol"):
        await server.realm.accounts.create(name, HASHER.hash(f"{name}-password"))
    return server


async def logged_in(server, nick: str, clients: list) -> RawClient:
    client = await client_for(server, nick, f"{nick}-password")
    clients.append(client)
    return client


async def test_register_needs_an_account_and_operator_status(accounts_server, clients):
    anon = await client_for(accounts_server, "dave")
    clients.append(anon)
    await join(anon, "#room")
    await tell(anon, "REGISTER #room")
    await notice(anon, "You must be logged in")
    bob = await logged_in(accounts_server, "bob", clients)
    await join(bob, "#room")
    await tell(bob, "REGISTER #room")
    await notice(bob, "You must be an operator of #room")
    await tell(bob, "REGISTER #nowhere")
    await notice(bob, "#nowhere does not exist")
    await tell(bob, "REGISTER")
    await notice(bob, "Syntax: REGISTER <#channel>")


async def test_register_info_and_the_founder_gets_op_on_join(accounts_server, clients):
    alice = await logged_in(accounts_server, "alice", clients)
    await join(alice, "#room")
    await alice.send("TOPIC #room :all about rooms")
    await alice.expect("TOPIC")
    await tell(alice, "REGISTER #room")
    await notice(alice, "#room is now registered to alice")
    await tell(alice, "REGISTER #room")
    await notice(alice, "#room is already registered")
    await tell(alice, "INFO #room")
    await notice(alice, "#room is registered to alice")
    await notice(alice, "Topic: all about rooms")
    await alice.send("PART #room")
    await alice.expect("PART")
    assert accounts_server.realm.find_group("#room") is not None  # lasts when empty
    bob = await logged_in(accounts_server, "bob", clients)
    await join(bob, "#room")  # not op: the channel is registered
    await alice.send("JOIN #room")
    names = await alice.expect("353", "alice")
    assert "@alice" in names.params[-1].split() and "bob" in names.params[-1].split()


async def test_access_list_gives_status_on_join(accounts_server, clients):
    alice = await logged_in(accounts_server, "alice", clients)
    await join(alice, "#room")
    await tell(alice, "REGISTER #room")
    await notice(alice, "now registered")
    await tell(alice, "ACCESS #room ADD bob op")
    await notice(alice, "bob now gets op on #room")
    await tell(alice, "ACCESS #room ADD carol voice")
    await notice(alice, "carol now gets voice on #room")
    await tell(alice, "ACCESS #room ADD nobody op")
    await notice(alice, "There is no account called nobody")
    await tell(alice, "ACCESS #room ADD carol king")
    await notice(alice, "The level is op or voice")
    bob = await logged_in(accounts_server, "bob", clients)
    await bob.send("JOIN #room")
    assert "@bob" in (await bob.expect("353", "bob")).params[-1].split()
    carol = await logged_in(accounts_server, "carol", clients)
    await carol.send("JOIN #room")
    assert "+carol" in (await carol.expect("353", "carol")).params[-1].split()
    # Only the founder changes the list; members see it.
    await tell(bob, "ACCESS #room DEL carol")
    await notice(bob, "Only the founder of #room")
    await tell(carol, "ACCESS #room LIST")
    await notice(carol, "Access list of #room (founder alice)")
    await notice(carol, "bob op")
    await notice(carol, "carol voice")
    await notice(carol, "End of the access list")
    await tell(alice, "ACCESS #room DEL carol")
    await notice(alice, "carol is removed")
    assert accounts_server.realm.find_group("#room").access == {"bob": "op"}


async def test_op_deop_voice(accounts_server, clients):
    alice = await logged_in(accounts_server, "alice", clients)
    await join(alice, "#room")
    await tell(alice, "REGISTER #room")
    await notice(alice, "now registered")
    bob = await logged_in(accounts_server, "bob", clients)
    await join(bob, "#room")
    await tell(bob, "OP #room")
    await notice(bob, "You do not have the access")
    await tell(alice, "OP #room bob")
    mode = await bob.expect("MODE", "#room")
    assert mode.source.startswith("ChanServ!services@") and mode.params[1:] == ["+o", "bob"]
    await tell(alice, "OP #room bob")
    await notice(alice, "bob already has op on #room")
    await tell(bob, "DEOP #room")  # taking it off yourself is always allowed
    assert (await bob.expect("MODE", "#room")).params[1:] == ["-o", "bob"]
    await tell(alice, "VOICE #room bob")
    assert (await bob.expect("MODE", "#room")).params[1:] == ["+v", "bob"]
    await tell(alice, "OP #room nobody")
    await notice(alice, "nobody is not on #room")
    await tell(alice, "OP #unregistered")
    await notice(alice, "#unregistered does not exist")


async def test_drop_is_for_the_founder_only(accounts_server, clients):
    alice = await logged_in(accounts_server, "alice", clients)
    await join(alice, "#room")
    await tell(alice, "REGISTER #room")
    await notice(alice, "now registered")
    bob = await logged_in(accounts_server, "bob", clients)
    await tell(bob, "DROP #room")
    await notice(bob, "Only the founder of #room may drop it")
    await tell(alice, "DROP #room")
    await notice(alice, "#room is no longer registered")
    await tell(alice, "INFO #room")
    await notice(alice, "#room is not registered")


async def test_registered_channels_and_access_survive_a_restart(start_server, tmp_path, clients):
    from conftest import make_config

    from words.app import build_server

    url = f"sqlite:///{tmp_path}/w.db"
    first = build_server(make_config(database=url))
    await first.realm.open()
    await first.start()
    first.port = first.bound[0][1]
    try:
        alice = await client_for(first, "alice")
        clients.append(alice)
        await tell(alice, "REGISTER sekrit123", "NickServ")
        await notice(alice, "is now registered", "NickServ")
        bob = await client_for(first, "bob")
        clients.append(bob)
        await tell(bob, "REGISTER bobsecret", "NickServ")
        await notice(bob, "is now registered", "NickServ")
        await join(alice, "#keep")
        await tell(alice, "REGISTER #keep")
        await notice(alice, "#keep is now registered")  # after the store has it
        await tell(alice, "ACCESS #keep ADD bob voice")
        await notice(alice, "bob now gets voice")
    finally:
        await first.stop()
        await first.services.stop()
        await first.realm.close()

    second = await start_server(database=url)
    group = second.realm.find_group("#keep")
    assert group is not None and group.founder == "alice" and group.access == {"bob": "voice"}
    bob = await client_for(second, "bob", "bob:bobsecret")
    clients.append(bob)
    await bob.send("JOIN #keep")
    assert "+bob" in (await bob.expect("353", "bob")).params[-1].split()
    alice = await client_for(second, "alice", "alice:sekrit123")
    clients.append(alice)
    await alice.send("JOIN #keep")
    assert "@alice" in (await alice.expect("353", "alice")).params[-1].split()
    await tell(alice, "INFO #keep")
    await notice(alice, "#keep is registered to alice")
