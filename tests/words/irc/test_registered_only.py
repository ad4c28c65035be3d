"""+r registered-only channels and the server-wide require_account option, over sockets."""

from __future__ import annotations

import base64

import pytest
from support import RawClient, join

from words.cred import PasswordHasher

HASHER = PasswordHasher.from_config({"ln": 4})


async def add_account(server, name: str, password: str) -> None:
    await server.realm.accounts.create(name, HASHER.hash(password))


def plain(account: str, password: str) -> str:
    return base64.b64encode(f"\0{account}\0{password}".encode()).decode()


async def test_chanmodes_and_myinfo_announce_r(connect):
    alice = await connect("alice")
    isupport = " ".join(" ".join(m.params) for m in alice.received if m.command == "005")
    assert "CHANMODES=beI,k,l,imnprst" in isupport
    myinfo = next(m for m in alice.received if m.command == "004")
    assert "r" in myinfo.params[4]


async def test_plus_r_admits_only_logged_in_users(server, connect):
    await add_account(server, "carol", "sekrit-pw")
    alice = await connect("alice")
    await join(alice, "#reg")
    await alice.send("MODE #reg +r")
    assert (await alice.expect("MODE")).params == ["#reg", "+r"]
    await alice.send("MODE #reg")
    assert (await alice.expect("324")).params[2] == "+nrt"
    bob = await connect("bob")
    await bob.send("JOIN #reg")
    refused = await bob.expect("477", "bob", "#reg")
    assert "+r" in refused.params[-1]
    assert "bob" not in {u.name for u in server.realm.find_group("#reg").members}
    carol = await connect("carol", password="carol:sekrit-pw")
    await join(carol, "#reg")
    # Invited users get past +r, as past +i.
    await alice.send("INVITE bob #reg")
    await bob.expect("INVITE")
    await join(bob, "#reg")
    await alice.send("MODE #reg -r")
    assert (await alice.expect("MODE")).params == ["#reg", "-r"]


async def test_plus_r_needs_channel_operator(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#c")
    await join(bob, "#c")
    await bob.send("MODE #c +r")
    await bob.expect("482", "bob", "#c")


@pytest.fixture
async def strict(start_server):
    server = await start_server(require_account=True)
    await add_account(server, "carol", "sekrit-pw")
    return server


async def test_require_account_refuses_a_client_that_did_not_log_in(strict):
    client = await RawClient.connect(strict.port)
    await client.send("NICK bob")
    await client.send("USER bob 0 * :Bob")
    refused = await client.expect("464", "bob")
    assert "requires an account" in refused.params[-1]
    error = await client.expect("ERROR")
    assert "account is required" in error.params[0]
    assert await client.closed()
    assert not [m for m in client.received if m.command == "001"]
    await client.close()


async def test_require_account_admits_pass_and_sasl(strict):
    client = await RawClient.connect(strict.port)
    await client.register("carol", password="carol:sekrit-pw")
    await client.send("WHOIS carol")
    assert (await client.expect("330")).params[2] == "carol"
    await client.close()

    ally = await RawClient.connect(strict.port)
    await ally.send("CAP LS 302")
    await ally.send("CAP REQ :sasl")
    await ally.expect("CAP", "*", "ACK", "sasl")
    await ally.send("NICK ally")
    await ally.send("USER ally 0 * :Ally")
    await ally.send("AUTHENTICATE PLAIN")
    await ally.expect("AUTHENTICATE", "+")
    await ally.send(f"AUTHENTICATE {plain('carol', 'sekrit-pw')}")
    await ally.expect("903")
    await ally.send("CAP END")
    await ally.expect("001", "ally")
    await ally.close()


async def test_require_account_refuses_a_wrong_password(strict):
    client = await RawClient.connect(strict.port)
    await client.send("PASS carol:wrong")
    await client.send("NICK carol")
    await client.send("USER carol 0 * :Carol")
    await client.expect("464")
    assert await client.closed()
    await client.close()


def test_config_reads_require_account():
    from words.config import ConfigError, config_from_mapping

    assert config_from_mapping({"require_account": True}, "t.yaml").require_account is True
    assert config_from_mapping({}, "t.yaml").require_account is False
    with pytest.raises(ConfigError, match="require_account"):
        config_from_mapping({"require_account": "yes"}, "t.yaml")
