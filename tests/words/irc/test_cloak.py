"""Host cloaking over real sockets: users see an HMAC of the address, opers the address."""

from __future__ import annotations

import pytest
from support import join

from words.config import Cloak, Oper
from words.cred import PasswordHasher
from words.irc.cloak import cloak_host

SECRET = "a-very-long-cloak-secret-for-tests"
ROOT_HASH = PasswordHasher.from_config({"ln": 4}).hash("sesame")


@pytest.fixture
async def server(start_server):
    return await start_server(
        cloak=Cloak(SECRET, "ip"), opers=(Oper("root", ROOT_HASH, hosts=("~user@127.0.0.1",)),)
    )


def test_cloak_is_stable_hmac_not_the_address():
    cloak = cloak_host("127.0.0.1", SECRET, "ip")
    assert cloak == cloak_host("127.0.0.1", SECRET, "ip")
    assert cloak != cloak_host("127.0.0.2", SECRET, "ip")
    assert cloak != cloak_host("127.0.0.1", SECRET + "x", "ip")
    first, second, suffix = cloak.split(".")
    assert len(first) == len(second) == 8 and suffix == "ip"
    assert "127" not in cloak


async def test_two_clients_from_one_address_see_the_same_cloak(connect):
    expected = cloak_host("127.0.0.1", SECRET, "ip")
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#c")
    await bob.send("JOIN #c")
    joined = await alice.expect("JOIN")
    assert joined.source == f"bob!~user@{expected}"
    await alice.send("WHOIS bob")
    whois = await alice.expect("311", "alice", "bob")
    assert whois.params[3] == expected
    await alice.send("WHO #c")
    who = await alice.expect("352", "alice", "#c", "~user")
    assert who.params[3] == expected
    lines = [m.to_line() for m in await alice.until_pong()]
    assert not any("127.0.0.1" in line for line in lines)
    # Not an oper: no 338 for another user.
    await alice.send("WHOIS bob")
    await alice.expect("318")
    assert not [m for m in alice.received if m.command == "338"]


async def test_an_oper_sees_the_real_address_in_whois(connect):
    alice = await connect("alice")
    await connect("bob")
    await alice.send("OPER root sesame")  # the oper block matches the real address
    await alice.expect("381")
    await alice.send("WHOIS bob")
    actually = await alice.expect("338", "alice", "bob")
    assert actually.params[2] == "127.0.0.1"


async def test_a_ban_on_the_cloak_and_one_on_the_address_both_work(connect):
    expected = cloak_host("127.0.0.1", SECRET, "ip")
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#c")
    await alice.send(f"MODE #c +b *!*@{expected}")
    await alice.expect("MODE")
    await bob.send("JOIN #c")
    await bob.expect("474", "bob", "#c")
    await alice.send(f"MODE #c -b *!*@{expected}")
    await alice.expect("MODE")
    await alice.send("MODE #c +b *!*@127.0.0.*")
    await alice.expect("MODE")
    await bob.send("JOIN #c")
    await bob.expect("474", "bob", "#c")


def test_config_reads_and_checks_the_cloak_block():
    from words.config import ConfigError, config_from_mapping

    config = config_from_mapping({"cloak": {"secret": SECRET, "suffix": "users"}}, "t.yaml")
    assert config.cloak == Cloak(SECRET, "users")
    assert SECRET not in repr(config)
    assert config_from_mapping({}, "t.yaml").cloak is None
    with pytest.raises(ConfigError, match="cloak.secret"):
        config_from_mapping({"cloak": {"suffix": "ip"}}, "t.yaml")
    with pytest.raises(ConfigError, match="at least 16"):
        config_from_mapping({"cloak": {"secret": "short"}}, "t.yaml")
