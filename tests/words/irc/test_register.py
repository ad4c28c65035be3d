"""REGISTER (IRCv3 draft/account-registration) through real sockets.

Before and after the connection completes, every FAIL code the server
gives, the cap value, and on the SQL realm: an acknowledged account is
there after a restart.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from support import RawClient

from words.config import Services
from words.cred import PasswordHasher

HASHER = PasswordHasher(ln=4)
CAP_VALUE = "before-connect,custom-account-name"


@pytest.fixture
async def clients():
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        await client.close()


async def registered(server, clients, nick: str, password: str | None = None) -> RawClient:
    client = await RawClient.connect(server.port)
    clients.append(client)
    await client.register(nick, password)
    return client


async def cap_ls(server, clients) -> dict[str, str]:
    client = await RawClient.connect(server.port)
    clients.append(client)
    await client.send("CAP LS 302")
    tokens = (await client.expect("CAP", "*", "LS")).params[-1].split()
    return dict(token.partition("=")[::2] for token in tokens)


async def test_the_cap_announces_its_keys(start_server, clients):
    server = await start_server()
    assert (await cap_ls(server, clients))["draft/account-registration"] == CAP_VALUE


async def test_register_after_connecting_logs_in(start_server, clients):
    server = await start_server()
    alice = await registered(server, clients, "alice")
    await alice.send("REGISTER * * sekrit123")
    success = await alice.expect("REGISTER")
    assert success.source == "irc.test"
    assert success.params[:2] == ["SUCCESS", "alice"]
    logged_in = await alice.expect("900", "alice")
    assert logged_in.params[1:3] == ["alice!~user@127.0.0.1", "alice"]
    account = await server.realm.accounts.get("alice")
    assert HASHER.verify("sekrit123", account.password_hash)
    await alice.send("WHOIS alice")
    assert (await alice.expect("330", "alice", "alice")).params[2] == "alice"
    await alice.send("REGISTER * * another123")
    fail = await alice.expect("FAIL")
    assert fail.params[:4] == ["REGISTER", "ALREADY_AUTHENTICATED", "alice", "You are already logged in as alice"]


async def test_register_before_connecting_signs_on_logged_in(start_server, clients):
    server = await start_server()
    client = await RawClient.connect(server.port)
    clients.append(client)
    await client.send("CAP LS 302")
    await client.expect("CAP", "*", "LS")
    await client.send("NICK alice")
    await client.send("USER alice 0 * :Alice")
    await client.send("REGISTER * alice@example.org sekrit123")
    assert (await client.expect("REGISTER")).params[:2] == ["SUCCESS", "alice"]
    assert (await client.expect("900", "alice")).params[2] == "alice"
    await client.send("CAP END")
    await client.expect("001", "alice")
    await client.send("WHOIS alice")
    assert (await client.expect("330", "alice", "alice")).params[2] == "alice"
    # Logged in already: a second REGISTER is refused.
    await client.send("REGISTER * * again12345")
    assert (await client.expect("FAIL")).params[1] == "ALREADY_AUTHENTICATED"


async def test_a_custom_account_name(start_server, clients):
    server = await start_server()
    alice = await registered(server, clients, "alice")
    await alice.send("REGISTER work * sekrit123")
    assert (await alice.expect("REGISTER")).params[:2] == ["SUCCESS", "work"]
    assert (await alice.expect("900")).params[2] == "work"


@pytest.mark.parametrize(
    ("line", "code", "context"),
    [
        ("REGISTER bob * sekrit123", "ACCOUNT_EXISTS", "bob"),
        ("REGISTER * * short", "WEAK_PASSWORD", "alice"),
        ("REGISTER 9lives * sekrit123", "BAD_ACCOUNT_NAME", "9lives"),
        ("REGISTER NickServ * sekrit123", "BAD_ACCOUNT_NAME", "NickServ"),
        ("REGISTER * not-an-address sekrit123", "INVALID_EMAIL", "alice"),
    ],
)
async def test_failures_are_standard_replies(start_server, clients, line, code, context):
    server = await start_server()
    await server.realm.accounts.create("bob", HASHER.hash("bobsecret"))
    alice = await registered(server, clients, "alice")
    await alice.send(line)
    fail = await alice.expect("FAIL")
    assert fail.source == "irc.test"
    assert fail.params[:3] == ["REGISTER", code, context]
    assert fail.params[3]  # a text for humans
    assert await server.realm.accounts.get("alice") is None


async def test_need_nick_and_need_more_params(start_server, clients):
    server = await start_server()
    client = await RawClient.connect(server.port)
    clients.append(client)
    await client.send("REGISTER * * sekrit123")
    assert (await client.expect("FAIL")).params[:3] == ["REGISTER", "NEED_NICK", "*"]
    await client.send("REGISTER alice sekrit123")
    await client.expect("461", "*", "REGISTER")


async def test_closed_registration_is_not_offered_and_refused(start_server, clients):
    server = await start_server(services=replace(Services(), registration=False))
    assert "draft/account-registration" not in await cap_ls(server, clients)
    alice = await registered(server, clients, "alice")
    await alice.send("REGISTER * * sekrit123")
    assert (await alice.expect("FAIL")).params[:2] == ["REGISTER", "TEMPORARILY_UNAVAILABLE"]
    await alice.send("PRIVMSG NickServ :REGISTER sekrit123")
    assert "Registration is closed" in (await alice.expect("NOTICE")).params[-1]


async def test_two_registrations_of_one_name_at_once_give_one_account(start_server, clients):
    server = await start_server()
    one = await registered(server, clients, "one")
    two = await registered(server, clients, "two")
    await one.send("REGISTER shared * sekrit123")
    await two.send("REGISTER shared * sekrit456")
    outcomes = []
    for client in (one, two):
        while True:
            msg = await client.read_message()
            if msg.command == "REGISTER":
                outcomes.append(msg.params[0])
                break
            if msg.command == "FAIL":
                outcomes.append(msg.params[1])
                break
    assert sorted(outcomes) == ["ACCOUNT_EXISTS", "SUCCESS"]


async def test_an_acknowledged_registration_survives_a_restart(start_server, tmp_path, clients):
    from conftest import make_config

    from words.app import build_server

    url = f"sqlite:///{tmp_path}/w.db"
    first = build_server(make_config(database=url))
    await first.realm.open()
    await first.start()
    first.port = first.bound[0][1]
    try:
        alice = await registered(first, clients, "alice")
        await alice.send("REGISTER * * sekrit123")
        assert (await alice.expect("REGISTER")).params[:2] == ["SUCCESS", "alice"]
    finally:
        await first.stop()
        await first.services.stop()
        await first.realm.close()

    second = await start_server(database=url)
    again = await registered(second, clients, "alice", "sekrit123")  # PASS for the nick's account
    await again.send("WHOIS alice")
    assert (await again.expect("330", "alice", "alice")).params[2] == "alice"
