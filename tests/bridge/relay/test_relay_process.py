"""`python -m bridge run <yaml>` as a real process, relaying two pairs, stopped by SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys

import pytest
import yaml
from relay_support import fresh_room, relay_config
from support import REPO, join, wait_until

from bridge.relay.text import ZWSP

pytestmark = pytest.mark.timeout(90)


async def test_the_relay_process_relays_two_pairs_and_stops_on_sigterm(
        server, prosody, connect, xmpp_user, tmp_path):
    room_a, room_b = fresh_room(prosody, "a"), fresh_room(prosody, "b")
    config = tmp_path / "bridge.yaml"
    config.write_text(yaml.safe_dump(relay_config(server.port, prosody, [
        {"channel": "#a", "room": room_a},
        {"channel": "#b", "room": room_b},
    ])))
    alice, bob = await connect("alice"), await connect("bob")
    await join(alice, "#a")
    await join(bob, "#b")
    log_path = tmp_path / "relay.log"
    with log_path.open("w") as log_file:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bridge", "run", str(config),
            stdout=subprocess.DEVNULL, stderr=log_file, cwd=REPO)
    try:
        def log_says(text: str) -> bool:
            assert proc.returncode is None, log_path.read_text()
            return text in log_path.read_text()

        await alice.expect("JOIN", "#a")
        await bob.expect("JOIN", "#b")
        await wait_until(lambda: log_says(f"joined {room_a} as irc")
                         and log_says(f"joined {room_b} as irc"), "the relay in both rooms",
                         timeout=20)
        carol = await xmpp_user("carol", room_a)
        dave = await xmpp_user("dave", room_b)

        await alice.send("PRIVMSG #a :hi a")
        assert await carol.next_message() == ("irc", "<alice> hi a")
        await bob.send("PRIVMSG #b :hi b")
        assert await dave.next_message() == ("irc", "<bob> hi b")
        carol.say("hello #a")
        assert (await alice.expect("PRIVMSG", "#a")).params[1] == f"<c{ZWSP}arol> hello #a"
        dave.say("hello #b")
        assert (await bob.expect("PRIVMSG", "#b")).params[1] == f"<d{ZWSP}ave> hello #b"

        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0, log_path.read_text()
        quit_msg = await alice.expect("QUIT")
        assert quit_msg.nick == "relay"
        assert quit_msg.params == ["Quit: relay stopping"]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def run_bridge(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bridge", *args], check=False,
                          capture_output=True, text=True, cwd=REPO, timeout=60, env={**os.environ, **(env or {})})


def test_the_shipped_config_checks_out():
    result = run_bridge("check-config", "config/bridge.yaml",
                        env={"RELAY_XMPP_PASS": "secret"})
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("config/bridge.yaml: 2 pair(s), 1 IRC network(s), "
                             "1 XMPP account(s), OK\n")


def test_a_bad_config_is_refused_naming_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({
        "irc": {"net": {"server": "irc.example.org", "nick": "relay"}},
        "xmpp": {"acc": {"jid": "relay@example.org", "password": "pw"}},
        "pairs": [{"irc": "nett", "channel": "#a", "xmpp": "acc", "room": "a@muc.example.org"}],
    }))
    for command in ("check-config", "run"):
        result = run_bridge(command, str(bad))
        assert result.returncode == 2
        assert result.stderr == (f"{bad}: pairs[0].irc: no IRC network 'nett' under irc: "
                                 f"(known: net)\n")
