"""Malformed input over real sockets: whatever a client sends, its connection stays usable.

Every test ends by proving the connection still works (a PING gets its PONG).
"""

from __future__ import annotations

import pytest
from conftest import RawClient


async def join(client: RawClient, *channels: str) -> None:
    for channel in channels:
        await client.send(f"JOIN {channel}")
        await client.expect("366", client.nick, channel)


async def send_raw(client: RawClient, data: bytes) -> None:
    """Write bytes exactly as given (no CR LF added)."""
    client.writer.write(data)
    await client.writer.drain()


def lines(messages) -> list[str]:
    return [m.to_line() for m in messages]


@pytest.fixture
async def pair(connect):
    """alice and bob, registered, sharing #a (alice is op), with nothing left to read."""
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#a")
    await join(bob, "#a")
    await alice.until_pong()
    await bob.until_pong()
    return alice, bob


TOO_LONG = [":irc.test 417 alice :Input line was too long"]


# -- lines that say nothing ------------------------------------------------------------


async def test_empty_lines_are_ignored(pair):
    alice, _bob = pair
    await send_raw(alice, b"\r\n\n\r\n")
    assert await alice.until_pong() == []


async def test_lines_of_only_spaces_are_ignored(pair):
    alice, _bob = pair
    await send_raw(alice, b"   \r\n \n")
    assert await alice.until_pong() == []


async def test_lines_of_only_tags_or_only_a_source_are_ignored(pair):
    alice, _bob = pair
    await send_raw(alice, b"@a=b\r\n:alice\r\n@a=b :alice\r\n")
    assert await alice.until_pong() == []


async def test_a_source_sent_by_a_client_is_ignored(pair):
    alice, bob = pair
    await alice.send(":bob!spoof@evil PRIVMSG #a :hello")
    said = await bob.expect("PRIVMSG")
    assert said.source == "alice!~user@127.0.0.1"
    assert await alice.until_pong() == []


async def test_bare_lf_ends_a_line(pair):
    alice, bob = pair
    await send_raw(alice, b"PRIVMSG #a :unix style\n")
    said = await bob.expect("PRIVMSG")
    assert said.params == ["#a", "unix style"]
    assert await alice.until_pong() == []


# -- too long ----------------------------------------------------------------------------


async def test_line_of_600_bytes_gets_417_and_is_not_run(pair):
    alice, bob = pair
    await alice.send("PRIVMSG #a :" + "x" * 588)
    assert lines(await alice.until_pong()) == TOO_LONG
    assert await bob.until_pong() == []


async def test_line_of_exactly_512_bytes_is_accepted(pair):
    alice, bob = pair
    line = "PRIVMSG #a :" + "x" * 498  # 510 bytes, plus CR LF
    await alice.send(line)
    said = await bob.expect("PRIVMSG")
    assert said.params == ["#a", "x" * 498]
    assert await alice.until_pong() == []


async def test_line_of_513_bytes_gets_417(pair):
    alice, bob = pair
    await alice.send("PRIVMSG #a :" + "x" * 499)
    assert lines(await alice.until_pong()) == TOO_LONG
    assert await bob.until_pong() == []


async def test_partial_line_over_the_limit_gets_417_before_its_end(pair):
    alice, _bob = pair
    await send_raw(alice, b"PRIVMSG #a :" + b"x" * 9000)
    reply = await alice.expect("417")
    assert reply.params == ["alice", "Input line was too long"]
    await send_raw(alice, b"\r\n")
    assert await alice.until_pong() == []


async def test_the_rest_of_an_overlong_line_is_discarded_not_run(pair):
    alice, bob = pair
    await send_raw(alice, b"PRIVMSG #a :" + b"x" * 9000)
    await alice.expect("417")
    # The end of the same line: it must not be taken for a command of its own.
    await send_raw(alice, b"x" * 9000 + b"PRIVMSG #a :smuggled\r\n")
    assert await alice.until_pong() == []
    assert await bob.until_pong() == []


async def test_huge_tag_part_gets_417(pair):
    alice, bob = pair
    await alice.send("@label=" + "t" * 9000 + " PRIVMSG #a :tagged")
    assert lines(await alice.until_pong()) == TOO_LONG
    assert await bob.until_pong() == []


async def test_tags_under_their_limit_do_not_count_against_512_bytes(pair):
    alice, bob = pair
    # A client's tags may take 4094 bytes (message-tags; beyond, 417: test_ircv3_caps.py).
    await alice.send("@label=" + "t" * (4094 - len("label=")) + " PRIVMSG #a :tagged")
    said = await bob.expect("PRIVMSG")
    assert said.params == ["#a", "tagged"]
    assert await alice.until_pong() == []


# -- bytes that are not text ----------------------------------------------------------------


async def test_invalid_utf8_is_read_as_latin1(pair):
    alice, bob = pair
    await send_raw(alice, b"PRIVMSG #a :caf\xe9 cr\xe8me\r\n")
    said = await bob.expect("PRIVMSG")
    assert said.params == ["#a", "café crème"]
    assert await alice.until_pong() == []


async def test_line_with_a_nul_byte_is_dropped(pair):
    alice, bob = pair
    await send_raw(alice, b"PRIVMSG #a :nul\x00here\r\n")
    assert await alice.until_pong() == []
    assert await bob.until_pong() == []


async def test_line_with_a_cr_inside_is_dropped(pair):
    alice, bob = pair
    await send_raw(alice, b"PRIVMSG #a :one\rtwo\r\n")
    assert await alice.until_pong() == []
    assert await bob.until_pong() == []


async def test_topic_with_a_cr_inside_cannot_break_list(pair):
    alice, bob = pair
    await send_raw(alice, b"TOPIC #a :one\rtwo\r\n")
    await alice.until_pong()
    await bob.send("LIST")
    await bob.expect("323")


# -- bad parameters ------------------------------------------------------------------------


async def test_command_with_too_few_params_gets_461(pair):
    alice, _bob = pair
    await alice.send("TOPIC")
    assert lines(await alice.until_pong()) == [
        ":irc.test 461 alice TOPIC :Not enough parameters",
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("NICK :a b", [":irc.test 432 alice * :Erroneous nickname"]),
        ("NICK ::x", [":irc.test 432 alice * :Erroneous nickname"]),
        ("JOIN :#a b", [":irc.test 403 alice * :No such channel"]),
        ("JOIN ::x", [":irc.test 403 alice * :No such channel"]),
        ("PART ::x", [":irc.test 403 alice * :No such channel"]),
        ("TOPIC :", [":irc.test 403 alice * :No such channel"]),
        ("MODE :", [":irc.test 401 alice * :No such nick/channel"]),
        ("MODE #a :+ x", [":irc.test 472 alice * :is unknown mode char to me",
                          ":irc.test 472 alice x :is unknown mode char to me"]),
        ("NAMES :#a b", [":irc.test 366 alice * :End of /NAMES list"]),
        ("WHO :a b", [":irc.test 315 alice * :End of WHO list"]),
        ("WHOIS :", [":irc.test 401 alice * :No such nick/channel",
                     ":irc.test 318 alice * :End of /WHOIS list"]),
        ("CAP :", [":irc.test 410 alice * :Invalid CAP command"]),
    ],
)
async def test_unsafe_parameters_are_echoed_as_a_star(pair, line, expected):
    alice, _bob = pair
    await alice.send(line)
    assert lines(await alice.until_pong()) == expected
