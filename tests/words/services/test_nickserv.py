"""NickServ through real sockets: accounts for clients without SASL or REGISTER.

Every test talks IRC to a words server: PRIVMSG NickServ, NOTICE back, and
the numerics (900/901) and nick changes the IRC front end derives from the
realm's events. One test runs on the SQL realm across a restart.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import replace

import pytest
import support
from support import RawClient

from words.config import Listen, Services, TLSFiles
from words.cred import PasswordHasher

HASHER = PasswordHasher(ln=4)


async def client_for(server, nick: str, password: str | None = None) -> RawClient:
    client = await RawClient.connect(server.port)
    await client.register(nick, password)
    return client


async def tell(client: RawClient, text: str, service: str = "NickServ") -> None:
    await support.tell(client, text, service)


async def notice(client: RawClient, contains: str, service: str = "NickServ") -> str:
    return await support.service_notice(client, contains, service)


async def add_account(server, name: str, password: str) -> None:
    await server.realm.accounts.create(name, HASHER.hash(password))


@pytest.fixture
async def services_server(start_server):
    return await start_server()


@pytest.fixture
async def clients():
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        await client.close()


async def test_services_are_signed_on_as_bots_with_their_names_taken(services_server, clients):
    alice = await client_for(services_server, "alice")
    clients.append(alice)
    await alice.send("WHOIS NickServ")
    whois = await alice.expect("311", "alice", "NickServ")
    assert whois.params[2:4] == ["services", "irc.test"]
    await alice.expect("318")
    await alice.send("NICK ChanServ")
    await alice.expect("433", "alice", "ChanServ")


async def test_register_logs_in_and_the_account_is_stored(services_server, clients):
    alice = await client_for(services_server, "alice")
    clients.append(alice)
    await tell(alice, "REGISTER sekrit123")
    logged_in = await alice.expect("900", "alice")
    assert logged_in.params[2] == "alice"
    await notice(alice, "alice is now registered")
    account = await services_server.realm.accounts.get("alice")
    assert account is not None and HASHER.verify("sekrit123", account.password_hash)
    await alice.send("WHOIS alice")
    assert (await alice.expect("330", "alice", "alice")).params[2] == "alice"
    # A second REGISTER while logged in is refused.
    await tell(alice, "REGISTER other12345")
    await notice(alice, "already logged in")


async def test_register_refuses_short_passwords_taken_names_and_no_password(services_server, clients):
    await add_account(services_server, "bob", "bobsecret")
    alice = await client_for(services_server, "alice")
    clients.append(alice)
    await tell(alice, "REGISTER short")
    await notice(alice, "at least 8 characters")
    await tell(alice, "REGISTER")
    await notice(alice, "Syntax: REGISTER <password>")
    assert await services_server.realm.accounts.get("alice") is None
    await alice.send("NICK Bob")  # registered, but enforcement is off in memory
    await notice(alice, "Bob is a registered nick")
    await tell(alice, "REGISTER longenough")
    await notice(alice, "already registered")


async def test_identify_logout_and_wrong_passwords(services_server, clients):
    await add_account(services_server, "alice", "sekrit123")
    bob = await client_for(services_server, "bob")
    clients.append(bob)
    await tell(bob, "IDENTIFY alice wrongpass")
    await notice(bob, "Wrong password, or no account called alice")
    await tell(bob, "IDENTIFY nosuch whatever")
    await notice(bob, "Wrong password, or no account called nosuch")
    await tell(bob, "IDENTIFY alice sekrit123")
    assert (await bob.expect("900", "bob")).params[2] == "alice"
    await notice(bob, "You are now logged in as alice")
    await tell(bob, "IDENTIFY alice sekrit123")
    await notice(bob, "already logged in as alice")
    await tell(bob, "LOGOUT")
    await bob.expect("901", "bob")
    await notice(bob, "logged out of alice")
    await tell(bob, "LOGOUT")
    await notice(bob, "You are not logged in")


async def test_identify_for_the_current_nick_and_throttling(start_server, clients):
    from words.config import Limits

    server = await start_server(limits={"login_failures_per_account": 2})
    assert isinstance(server.config.limits, Limits)
    await add_account(server, "alice", "sekrit123")
    alice = await client_for(server, "alice")
    clients.append(alice)
    for _ in range(2):
        await tell(alice, "IDENTIFY nope-nope")
        await notice(alice, "Wrong password")
    await tell(alice, "IDENTIFY sekrit123")
    await notice(alice, "Too many failed logins")


async def test_set_password_then_log_in_with_the_new_one(services_server, clients):
    alice = await client_for(services_server, "alice")
    clients.append(alice)
    await tell(alice, "SET PASSWORD newsecret1")
    await notice(alice, "You are not logged in")
    await tell(alice, "REGISTER sekrit123")
    await notice(alice, "is now registered")
    await tell(alice, "SET PASSWORD tiny")
    await notice(alice, "Password not changed")
    await tell(alice, "SET PASSWORD newsecret1")
    await notice(alice, "The password of alice is changed")
    again = await client_for(services_server, "alice2", "alice:newsecret1")
    clients.append(again)
    await again.send("WHOIS alice2")
    assert (await again.expect("330", "alice2", "alice2")).params[2] == "alice"


async def test_info_on_registered_and_unregistered_nicks(services_server, clients):
    alice = await client_for(services_server, "alice")
    clients.append(alice)
    await tell(alice, "INFO")
    await notice(alice, "alice is not registered")
    await tell(alice, "REGISTER sekrit123")
    await notice(alice, "is now registered")
    await tell(alice, "INFO alice")
    await notice(alice, "alice is a registered account")
    await notice(alice, "Registered: ")
    await notice(alice, "Logged in now: alice")
    await notice(alice, "Client certificates: 0")


async def test_ghost_disconnects_a_session_using_your_nick(services_server, clients):
    await add_account(services_server, "alice", "sekrit123")
    squatter = await client_for(services_server, "alice")
    owner = await client_for(services_server, "alice_")
    clients += [squatter, owner]
    await tell(owner, "GHOST alice")
    await notice(owner, "send GHOST alice <password>")
    await tell(owner, "GHOST alice badpassword")
    await notice(owner, "Wrong password for alice")
    await tell(owner, "GHOST alice sekrit123")
    await notice(owner, "alice has been disconnected")
    error = await squatter.expect("ERROR")
    assert "GHOST command used by alice_" in error.params[0]
    assert await squatter.closed()
    # The nick is free now.
    await owner.send("NICK alice")
    await owner.expect("NICK", "alice")
    await tell(owner, "GHOST nobody")
    await notice(owner, "nobody is not online")


async def test_ghost_without_password_when_logged_in(services_server, clients):
    await add_account(services_server, "alice", "sekrit123")
    squatter = await client_for(services_server, "alice")
    owner = await client_for(services_server, "ally", "alice:sekrit123")
    clients += [squatter, owner]
    await tell(owner, "GHOST alice")
    await notice(owner, "alice has been disconnected")
    assert await squatter.closed()


async def test_drop_needs_the_password_and_removes_account_and_channels(services_server, clients):
    alice = await client_for(services_server, "alice")
    clients.append(alice)
    await tell(alice, "REGISTER sekrit123")
    await notice(alice, "is now registered")
    await alice.send("JOIN #mine")
    await alice.expect("366")
    await tell(alice, "REGISTER #mine", "ChanServ")
    await notice(alice, "#mine is now registered", "ChanServ")
    await tell(alice, "DROP wrongpassword")
    await notice(alice, "the account is kept")
    await tell(alice, "DROP sekrit123")
    await alice.expect("901", "alice")
    await notice(alice, "The account alice is dropped")
    assert await services_server.realm.accounts.get("alice") is None
    assert services_server.realm.find_group("#mine").founder is None


async def test_cert_add_list_del_by_fingerprint(services_server, clients):
    alice = await client_for(services_server, "alice")
    clients.append(alice)
    await tell(alice, "CERT LIST")
    await notice(alice, "You are not logged in")
    await tell(alice, "REGISTER sekrit123")
    await notice(alice, "is now registered")
    await tell(alice, "CERT ADD")
    await notice(alice, "Your connection has no client certificate")
    await tell(alice, "CERT ADD not-a-fingerprint")
    await notice(alice, "is not a SHA-256 fingerprint")
    fp = hashlib.sha256(b"alice's cert").hexdigest()
    colons = ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper()
    await tell(alice, f"CERT ADD {colons}")
    await notice(alice, f"Certificate {fp} now logs in to alice")
    assert (await services_server.realm.accounts.get("alice")).fingerprints == (fp,)
    await tell(alice, f"CERT ADD {fp}")
    await notice(alice, "already registered to an account")
    await tell(alice, "CERT LIST")
    await notice(alice, fp)
    await tell(alice, f"CERT DEL {fp}")
    await notice(alice, f"Certificate {fp} removed from alice")
    await tell(alice, f"CERT DEL {fp}")
    await notice(alice, f"alice has no certificate {fp}")
    await tell(alice, "CERT LIST")
    await notice(alice, "alice has no client certificates")


async def test_cert_add_without_argument_takes_the_tls_client_certificate(start_server, tmp_path, clients):
    trustme = pytest.importorskip("trustme")
    server_ca, client_ca = trustme.CA(), trustme.CA()
    leaf = server_ca.issue_cert("127.0.0.1")
    cert, key, ca = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "ca.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    client_ca.cert_pem.write_to_path(str(ca))
    server = await start_server(
        listen=(Listen("127.0.0.1", 0, TLSFiles(str(cert), str(key), str(ca))),)
    )
    mine = client_ca.issue_cert("alice@example.org")
    context = ssl.create_default_context()
    server_ca.configure_trust(context)
    mine.configure_cert(context)
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, ssl=context)
    alice = RawClient(reader, writer)
    clients.append(alice)
    await alice.register("alice")
    await tell(alice, "REGISTER sekrit123")
    await notice(alice, "is now registered")
    await tell(alice, "CERT ADD")
    der = ssl.PEM_cert_to_DER_cert(mine.cert_chain_pems[0].bytes().decode())
    fp = hashlib.sha256(der).hexdigest()
    await notice(alice, f"Certificate {fp} now logs in to alice")
    account = await server.realm.accounts.find_by_fingerprint(fp)
    assert account is not None and account.name == "alice"


async def test_help_and_unknown_commands(services_server, clients):
    alice = await client_for(services_server, "alice")
    clients.append(alice)
    await tell(alice, "HELP")
    await notice(alice, "NickServ commands")
    await notice(alice, "GHOST <nick> [password]")
    await tell(alice, "HELP cert")
    await notice(alice, "CERT ADD [fingerprint]")
    await tell(alice, "FROB")
    await notice(alice, "Unknown command FROB")
    # A notice to a service is never answered.
    await alice.send("NOTICE NickServ :HELP")
    assert not [m for m in await alice.until_pong() if m.command == "NOTICE"]


# -- nick ownership ----------------------------------------------------------------------


def enforcing(grace: float = 0.3) -> Services:
    return Services(enforce_nicks=True, nick_grace_seconds=grace)


async def test_a_registered_nick_is_renamed_to_a_guest_after_the_grace_time(start_server, clients):
    server = await start_server(services=enforcing())
    await add_account(server, "alice", "sekrit123")
    squatter = await client_for(server, "alice")
    clients.append(squatter)
    await notice(squatter, "alice is a registered nick")
    renamed = await squatter.expect("NICK", timeout=5)
    assert renamed.source.startswith("alice!") and renamed.params[0].startswith("Guest")
    guest = renamed.params[0]
    # The connection follows its new nick: numerics go to the guest nick.
    await squatter.send("WHOIS alice")
    await squatter.expect("401", guest, "alice")


async def test_identifying_in_time_keeps_the_nick(start_server, clients):
    server = await start_server(services=enforcing(0.5))
    await add_account(server, "alice", "sekrit123")
    alice = await client_for(server, "alice")
    clients.append(alice)
    await notice(alice, "within 0.5 seconds")
    await tell(alice, "IDENTIFY sekrit123")
    await alice.expect("900", "alice")
    import asyncio

    await asyncio.sleep(0.8)  # past the grace time: nothing must happen
    assert not [m for m in await alice.until_pong() if m.command == "NICK"]


async def test_changing_nick_or_quitting_cancels_the_rename(start_server, clients):
    import asyncio

    server = await start_server(services=enforcing(0.4))
    await add_account(server, "alice", "sekrit123")
    squatter = await client_for(server, "alice")
    clients.append(squatter)
    await notice(squatter, "alice is a registered nick")
    await squatter.send("NICK carol")
    await squatter.expect("NICK", "carol")
    quitter = await client_for(server, "alice")
    await notice(quitter, "alice is a registered nick")
    await quitter.send("QUIT :bye")
    assert await quitter.closed()
    await quitter.close()
    await asyncio.sleep(0.6)
    assert not [m for m in await squatter.until_pong() if m.command == "NICK"]
    assert not server.services.nickserv._timers


async def test_logged_in_users_of_their_own_nick_are_left_alone(start_server, clients):
    server = await start_server(services=enforcing(0.2))
    await add_account(server, "alice", "sekrit123")
    alice = await client_for(server, "alice", "sekrit123")
    clients.append(alice)
    import asyncio

    await asyncio.sleep(0.4)
    lines = await alice.until_pong()
    assert not [m for m in lines if m.command in ("NICK", "NOTICE")]


async def test_enforcement_defaults_off_in_memory_and_on_with_a_database(start_server, tmp_path):
    memory = await start_server()
    assert memory.services.enforce_nicks is False
    sql = await start_server(database=f"sqlite:///{tmp_path}/w.db")
    assert sql.services.enforce_nicks is True
    off = await start_server(services=replace(Services(), enabled=False))
    assert off.realm.find_user("NickServ") is None


# -- the SQL realm -------------------------------------------------------------------------


async def test_an_account_registered_with_nickserv_survives_a_restart(start_server, tmp_path, clients):
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
        await tell(alice, "REGISTER sekrit123")
        await notice(alice, "is now registered")  # acknowledged: committed
    finally:
        await first.stop()
        await first.services.stop()
        await first.realm.close()

    second = await start_server(database=url)
    again = await client_for(second, "someone")
    clients.append(again)
    await tell(again, "IDENTIFY alice sekrit123")
    assert (await again.expect("900", "someone")).params[2] == "alice"


# -- configuration ---------------------------------------------------------------------------


def test_the_services_section_is_read_and_checked():
    from words.config import ConfigError, config_from_mapping

    config = config_from_mapping(
        {"services": {"enabled": False, "registration": False, "enforce_nicks": True,
                      "nick_grace_seconds": 30, "min_password_length": 12}},
        "<test>",
    )
    assert config.services == Services(False, False, 12, True, 30.0)
    assert config_from_mapping({}, "<test>").services == Services()
    with pytest.raises(ConfigError, match="services.nick_grace_seconds"):
        config_from_mapping({"services": {"nick_grace_seconds": 0}}, "<test>")
    with pytest.raises(ConfigError, match="services.frobs: unknown key"):
        config_from_mapping({"services": {"frobs": 1}}, "<test>")
