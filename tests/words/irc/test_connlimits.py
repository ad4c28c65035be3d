"""Connection caps per network and reconnect throttling (words.irc.connlimits).

The live tests connect from other loopback addresses than the exempt
127.0.0.1 (Linux routes all of 127.0.0.0/8 to lo), so the server sees
distinct peers: 127.0.0.2, 127.0.0.3, ...
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from support import RawClient

from words.config import ConfigError, Limits, config_from_mapping
from words.irc.connlimits import (
    THROTTLED,
    TOO_MANY_FROM_HOST,
    TOO_MANY_FROM_NETWORK,
    ConnectionLimiter,
    Refused,
)


async def connect_from(port: int, source: str) -> RawClient:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    return RawClient(reader, writer)


@pytest.fixture
async def clients():
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        await client.close()


async def registered_from(server, source: str, nick: str, clients: list[RawClient]) -> RawClient:
    client = await connect_from(server.port, source)
    clients.append(client)
    await client.register(nick)
    return client


async def refused_from(server, source: str, clients: list[RawClient]) -> str:
    """Connect from `source`; the ERROR line's text, after checking the server closed."""
    client = await connect_from(server.port, source)
    clients.append(client)
    error = await client.expect("ERROR")
    assert await client.closed()
    return error.params[0]


# -- per network ------------------------------------------------------------------------


async def test_a_network_over_its_cap_is_refused(start_server, clients):
    server = await start_server(limits={"max_per_cidr_v4": 2, "per_ip_exempt": []})
    await registered_from(server, "127.0.0.2", "alice", clients)
    await registered_from(server, "127.0.0.3", "bob", clients)
    text = await refused_from(server, "127.0.0.4", clients)
    assert text == f"Closing Link: 127.0.0.4 ({TOO_MANY_FROM_NETWORK})"
    assert server.conn_limits.per_network == {"127.0.0.0/24": 2}


async def test_the_prefix_length_decides_what_one_network_is(start_server, clients):
    server = await start_server(
        limits={"max_per_cidr_v4": 2, "cidr_v4_prefix": 30, "per_ip_exempt": []}
    )
    await registered_from(server, "127.0.0.2", "alice", clients)
    await registered_from(server, "127.0.0.3", "bob", clients)
    assert await refused_from(server, "127.0.0.1", clients) == (
        f"Closing Link: 127.0.0.1 ({TOO_MANY_FROM_NETWORK})"
    )
    # 127.0.0.4 is in the next /30: a network of its own.
    await registered_from(server, "127.0.0.4", "carol", clients)
    assert server.conn_limits.per_network == {"127.0.0.0/30": 2, "127.0.0.4/30": 1}


async def test_a_network_accepts_again_once_one_leaves(start_server, clients):
    server = await start_server(limits={"max_per_cidr_v4": 1, "per_ip_exempt": []})
    alice = await registered_from(server, "127.0.0.2", "alice", clients)
    assert await refused_from(server, "127.0.0.3", clients) == (
        f"Closing Link: 127.0.0.3 ({TOO_MANY_FROM_NETWORK})"
    )
    await alice.send("QUIT :bye")
    assert await alice.closed()
    await registered_from(server, "127.0.0.3", "bob", clients)
    assert server.conn_limits.per_network == {"127.0.0.0/24": 1}
    assert server.per_ip == {"127.0.0.3": 1}


async def test_the_per_address_cap_still_comes_first(start_server, clients):
    server = await start_server(limits={"max_per_ip": 1, "per_ip_exempt": []})
    await registered_from(server, "127.0.0.2", "alice", clients)
    assert await refused_from(server, "127.0.0.2", clients) == (
        f"Closing Link: 127.0.0.2 ({TOO_MANY_FROM_HOST})"
    )


async def test_exempt_networks_are_not_counted(start_server, clients):
    server = await start_server(
        limits={"max_per_cidr_v4": 1, "max_per_ip": 1, "throttle_connections": 1,
                "per_ip_exempt": ["127.0.0.0/29"]}
    )
    for source, nick in (("127.0.0.2", "alice"), ("127.0.0.2", "bob"), ("127.0.0.3", "carol")):
        await registered_from(server, source, nick, clients)
    assert not server.conn_limits.per_network and not server.per_ip
    # 127.0.0.9 is outside the exempt /29: counted, and the next one is over the cap.
    await registered_from(server, "127.0.0.9", "dave", clients)
    assert await refused_from(server, "127.0.0.10", clients) == (
        f"Closing Link: 127.0.0.10 ({TOO_MANY_FROM_NETWORK})"
    )


# -- reconnect throttling ---------------------------------------------------------------


async def test_reconnecting_too_fast_is_throttled(start_server, clients):
    server = await start_server(
        limits={"throttle_connections": 3, "throttle_window": 60.0, "per_ip_exempt": []}
    )
    for n in range(3):
        client = await connect_from(server.port, "127.0.0.5")
        await client.send("PING still-here")
        await client.expect("PONG")
        await client.close()
    assert await refused_from(server, "127.0.0.5", clients) == (
        f"Closing Link: 127.0.0.5 ({THROTTLED})"
    )
    # Throttled attempts count too: hammering keeps the address refused.
    assert await refused_from(server, "127.0.0.5", clients) == (
        f"Closing Link: 127.0.0.5 ({THROTTLED})"
    )
    # Another address is not affected, nor are the connections already open.
    await registered_from(server, "127.0.0.6", "bob", clients)


async def test_a_throttled_address_holds_no_connection_slot(start_server, clients):
    server = await start_server(
        limits={"throttle_connections": 1, "max_per_ip": 1, "per_ip_exempt": []}
    )
    await registered_from(server, "127.0.0.7", "alice", clients)
    await refused_from(server, "127.0.0.7", clients)
    assert server.per_ip == {"127.0.0.7": 1}
    assert len(server.connections) == 1


# -- the limiter itself, with explicit times --------------------------------------------

LIMITS = replace(Limits(), throttle_connections=2, throttle_window=10.0, per_ip_exempt=())


def test_an_address_is_let_in_again_after_a_quiet_window():
    limiter = ConnectionLimiter()
    for now in (0.0, 1.0):
        limiter.release(limiter.admit("192.0.2.1", LIMITS, now))
    # Two attempts within 10 s: refused; and each refused attempt counts, so
    # at 11.5 (2.0 and 9.0 were within 10 s) it is still refused.
    for now in (2.0, 9.0, 11.5):
        with pytest.raises(Refused, match=THROTTLED):
            limiter.admit("192.0.2.1", LIMITS, now)
    # At 19.5 only one attempt (11.5) is within the window: let in.
    limiter.release(limiter.admit("192.0.2.1", LIMITS, 19.5))


def test_old_attempts_are_forgotten_by_the_sweep():
    limiter = ConnectionLimiter()
    for i in range(100):
        limiter.release(limiter.admit(f"192.0.2.{i}", LIMITS, float(i)))
    limiter.forget_old_attempts(LIMITS, 100.0)
    assert limiter.tracked_addresses == 9  # 91.0 .. 99.0 are less than 10 s before 100.0
    assert not limiter.per_ip and not limiter.per_network


def test_ipv6_counts_per_64_and_mapped_ipv4_as_ipv4():
    limits = replace(Limits(), max_per_cidr_v6=2, max_per_cidr_v4=1, per_ip_exempt=())
    limiter = ConnectionLimiter()
    limiter.admit("2001:db8:0:1::1", limits, 0.0)
    limiter.admit("2001:db8:0:1:ffff::2", limits, 0.0)
    with pytest.raises(Refused, match=TOO_MANY_FROM_NETWORK):
        limiter.admit("2001:db8:0:1::3", limits, 0.0)
    limiter.admit("2001:db8:0:2::1", limits, 0.0)  # another /64
    assert limiter.per_network == {"2001:db8:0:1::/64": 2, "2001:db8:0:2::/64": 1}
    limiter.admit("::ffff:198.51.100.7", limits, 0.0)
    with pytest.raises(Refused, match=TOO_MANY_FROM_NETWORK):
        limiter.admit("198.51.100.8", limits, 0.0)
    assert limiter.per_ip["198.51.100.7"] == 1


def test_exempt_entries_may_be_addresses_or_networks():
    limits = replace(Limits(), max_per_ip=1, per_ip_exempt=("192.0.2.1", "2001:db8::/32"))
    limiter = ConnectionLimiter()
    for _ in range(3):
        assert limiter.admit("192.0.2.1", limits, 0.0) is None
        assert limiter.admit("2001:db8:5::1", limits, 0.0) is None
    assert limiter.admit("192.0.2.2", limits, 0.0) is not None


# -- configuration ----------------------------------------------------------------------


def test_the_limits_are_read_from_the_config():
    config = config_from_mapping(
        {"limits": {"max_per_cidr_v4": 5, "cidr_v4_prefix": 16, "max_per_cidr_v6": 3,
                    "cidr_v6_prefix": 48, "throttle_connections": 4, "throttle_window": 30,
                    "per_ip_exempt": ["10.0.0.0/8", "::1"]}},
        "test.yaml",
    )
    limits = config.limits
    assert (limits.max_per_cidr_v4, limits.cidr_v4_prefix) == (5, 16)
    assert (limits.max_per_cidr_v6, limits.cidr_v6_prefix) == (3, 48)
    assert (limits.throttle_connections, limits.throttle_window) == (4, 30.0)
    assert limits.per_ip_exempt == ("10.0.0.0/8", "::1")


@pytest.mark.parametrize(
    ("limits", "key", "problem"),
    [
        ({"cidr_v4_prefix": 33}, "limits.cidr_v4_prefix", "must be at most 32, got 33"),
        ({"cidr_v6_prefix": 129}, "limits.cidr_v6_prefix", "must be at most 128, got 129"),
        ({"throttle_connections": 0}, "limits.throttle_connections", "must be at least 1, got 0"),
        ({"per_ip_exempt": ["10.0.0.0/8", "localhost"]}, "limits.per_ip_exempt[1]",
         "not an address or CIDR network: 'localhost' does not appear to be an IPv4 or IPv6 network"),
    ],
)
def test_bad_limits_name_the_key(limits, key, problem):
    with pytest.raises(ConfigError) as caught:
        config_from_mapping({"limits": limits}, "test.yaml")
    assert (caught.value.key, caught.value.problem) == (key, problem)
