"""SIGKILL in the middle of account registrations and topic changes loses no acknowledged account."""

from __future__ import annotations

import asyncio
import signal

from support import RawClient, free_port


async def register_account(port: int, nick: str, acknowledged: list[str], enough: asyncio.Event) -> None:
    client = await RawClient.connect(port)
    try:
        await client.register(nick)
        await client.send(f"REGISTER * * password-{nick}")
        while True:
            msg = await client.read_message(timeout=10)
            if msg is None:
                return  # killed before the answer: no promise was made
            if msg.command == "REGISTER" and msg.params[0] == "SUCCESS":
                acknowledged.append(nick)
                if len(acknowledged) >= 10:
                    enough.set()
                return
            if msg.command == "FAIL":
                raise AssertionError(f"registration of {nick} failed: {msg.to_line()}")
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        await client.close()


async def change_topics(port: int) -> None:
    client = await RawClient.connect(port)
    try:
        await client.register("topical")
        await client.send("JOIN #busy")
        await client.expect("366")
        for n in range(10_000):
            await client.send(f"TOPIC #busy :topic number {n}")
            if await client.read_message(timeout=10) is None:
                return
    except (ConnectionError, asyncio.IncompleteReadError, AssertionError):
        return
    finally:
        await client.close()


async def test_acknowledged_accounts_survive_sigkill(tmp_path, words_process):
    config = tmp_path / "words.yaml"
    config.write_text(
        "realm: {database: 'sqlite:///words.db'}\n"
        "auth: [anonymous]\n"
        "hashing: {ln: 10}\n"
        "limits: {flood_burst: 100000, flood_rate: 100000}\n"
        "services: {enforce_nicks: false}\n"
    )
    port = free_port()
    proc = words_process("--config", str(config), port=port)
    acknowledged: list[str] = []
    enough = asyncio.Event()
    topics = asyncio.create_task(change_topics(port))
    registrations = [
        asyncio.create_task(register_account(port, f"user{i}", acknowledged, enough))
        for i in range(60)
    ]
    await asyncio.wait_for(enough.wait(), 20)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    await asyncio.gather(topics, *registrations)
    survivors = list(acknowledged)
    assert len(survivors) >= 10

    port = free_port()
    words_process("--config", str(config), port=port)
    for nick in survivors:
        client = await RawClient.connect(port)
        await client.send(f"PASS {nick}:password-{nick}")
        await client.send(f"NICK {nick}")
        await client.send("USER u 0 * :u")
        welcome = await client.expect("001")
        assert welcome.params[0] == nick
        await client.close()
