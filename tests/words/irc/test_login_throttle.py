"""Login throttling through real sockets: failures per account name and per address."""

from __future__ import annotations

from support import RawClient


async def try_password(port: int, nick: str, password: str) -> list[str]:
    client = await RawClient.connect(port)
    await client.send(f"PASS {password}")
    await client.send(f"NICK {nick}")
    await client.send("USER u 0 * :u")
    await client.closed()
    await client.close()
    return [m.params[-1] for m in client.received if m.command in ("464", "ERROR")]


async def test_failures_lock_the_account_name_with_a_clear_error(start_server):
    server = await start_server(
        auth=("memory:alice:secret",),
        limits={"login_failures_per_account": 2, "per_ip_exempt": []},
    )
    for _ in range(2):
        assert await try_password(server.port, "alice", "wrong") == [
            "Password incorrect", "Closing Link: 127.0.0.1 (Bad password)",
        ]
    # Even the right password is refused now, without being checked.
    assert await try_password(server.port, "alice", "secret") == [
        "Too many failed logins; try again later",
        "Closing Link: 127.0.0.1 (Too many failed logins)",
    ]


async def test_failures_from_one_address_lock_every_name(start_server):
    server = await start_server(
        auth=("memory:alice:secret",),
        limits={"login_failures_per_address": 3, "per_ip_exempt": []},
    )
    for name in ("a1", "a2", "a3"):
        assert (await try_password(server.port, name, "guess"))[0] == "Password incorrect"
    assert (await try_password(server.port, "alice", "secret"))[0] == (
        "Too many failed logins; try again later"
    )
