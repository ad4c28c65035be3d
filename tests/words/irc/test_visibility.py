"""Who sees what: +s/+p channels and +i users hidden from outsiders; LIST filters (ELIST)."""

from __future__ import annotations

import pytest
from support import RawClient, join, reply_to


async def mode(client: RawClient, target: str, change: str) -> None:
    await client.send(f"MODE {target} {change}")
    await client.expect("MODE", target)


LIST_START = ":irc.test 321 bob Channel :Users  Name"
LIST_END = ":irc.test 323 bob :End of /LIST"


async def hide(connect, letter: str = "s", *others: str) -> RawClient:
    """alice, op of #hidden set +`letter` (and on the `others`); returns alice."""
    alice = await connect("alice")
    await join(alice, "#hidden", *others)
    await mode(alice, "#hidden", f"+{letter}")
    return alice


# -- +s and +p channels ---------------------------------------------------------------


@pytest.mark.parametrize("letter", ["s", "p"])
async def test_hidden_channel_is_not_in_list_for_outsiders(connect, letter):
    await hide(connect, letter, "#open")
    bob = await connect("bob")
    assert await reply_to(bob, "LIST") == [LIST_START, ":irc.test 322 bob #open 1 :", LIST_END]


@pytest.mark.parametrize("letter", ["s", "p"])
async def test_hidden_channel_is_not_in_list_even_by_name(connect, letter):
    await hide(connect, letter)
    bob = await connect("bob")
    assert await reply_to(bob, "LIST #hidden") == [LIST_START, LIST_END]


async def test_secret_channel_is_in_list_for_its_members(connect):
    alice = await hide(connect, "s")
    assert await reply_to(alice, "LIST") == [
        ":irc.test 321 alice Channel :Users  Name",
        ":irc.test 322 alice #hidden 1 :",
        ":irc.test 323 alice :End of /LIST",
    ]


async def test_channel_is_listed_again_after_minus_s(connect):
    alice = await hide(connect, "s")
    await mode(alice, "#hidden", "-s")
    bob = await connect("bob")
    assert await reply_to(bob, "LIST") == [LIST_START, ":irc.test 322 bob #hidden 1 :", LIST_END]


@pytest.mark.parametrize("letter", ["s", "p"])
async def test_names_of_a_hidden_channel_for_an_outsider_is_only_366(connect, letter):
    await hide(connect, letter)
    bob = await connect("bob")
    assert await reply_to(bob, "NAMES #hidden") == [
        ":irc.test 366 bob #hidden :End of /NAMES list",
    ]


async def test_names_of_a_secret_channel_for_a_member(connect):
    alice = await hide(connect, "s")
    assert await reply_to(alice, "NAMES #hidden") == [
        ":irc.test 353 alice = #hidden @alice",
        ":irc.test 366 alice #hidden :End of /NAMES list",
    ]


@pytest.mark.parametrize("letter", ["s", "p"])
async def test_who_of_a_hidden_channel_for_an_outsider_is_only_315(connect, letter):
    await hide(connect, letter)
    bob = await connect("bob")
    assert await reply_to(bob, "WHO #hidden") == [":irc.test 315 bob #hidden :End of WHO list"]


async def test_who_of_a_secret_channel_for_a_member(connect):
    alice = await hide(connect, "s")
    assert await reply_to(alice, "WHO #hidden") == [
        ":irc.test 352 alice #hidden ~user 127.0.0.1 irc.test alice H@ :0 Real alice",
        ":irc.test 315 alice #hidden :End of WHO list",
    ]


@pytest.mark.parametrize("letter", ["s", "p"])
async def test_whois_hides_a_hidden_channel_from_outsiders(connect, letter):
    await hide(connect, letter, "#open")
    bob = await connect("bob")
    replies = await reply_to(bob, "WHOIS alice")
    assert replies[1] == ":irc.test 319 bob alice @#open"


async def test_whois_without_a_visible_channel_has_no_319(connect):
    await hide(connect, "s")
    bob = await connect("bob")
    replies = await reply_to(bob, "WHOIS alice")
    assert [r.split()[1] for r in replies] == ["311", "312", "317", "318"]


async def test_whois_shows_a_secret_channel_to_a_fellow_member(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await join(alice, "#hidden")
    await mode(alice, "#hidden", "+s")
    await join(bob, "#hidden")
    replies = await reply_to(bob, "WHOIS alice")
    assert replies[1] == ":irc.test 319 bob alice @#hidden"


async def test_who_of_a_nick_does_not_name_a_secret_channel(connect):
    await hide(connect, "s")
    bob = await connect("bob")
    assert await reply_to(bob, "WHO alice") == [
        ":irc.test 352 bob * ~user 127.0.0.1 irc.test alice H :0 Real alice",
        ":irc.test 315 bob alice :End of WHO list",
    ]


@pytest.fixture
async def invisible_member(connect) -> RawClient:
    """alice, op of #a, where carol (+i) is a member too; returns alice."""
    alice, carol = await connect("alice"), await connect("carol")
    await join(alice, "#a")
    await join(carol, "#a")
    await mode(carol, "carol", "+i")
    return alice


# -- +i users --------------------------------------------------------------------------


async def test_who_mask_hides_an_invisible_user_who_shares_no_channel(connect):
    alice = await connect("alice")
    await mode(alice, "alice", "+i")
    bob = await connect("bob")
    assert await reply_to(bob, "WHO a*") == [":irc.test 315 bob a* :End of WHO list"]


async def test_who_mask_shows_an_invisible_user_who_shares_a_channel(connect):
    alice = await connect("alice")
    bob = await connect("bob")
    await mode(alice, "alice", "+i")
    await join(alice, "#a")
    await join(bob, "#a")
    assert await reply_to(bob, "WHO a*") == [
        ":irc.test 352 bob #a ~user 127.0.0.1 irc.test alice H :0 Real alice",
        ":irc.test 315 bob a* :End of WHO list",
    ]


async def test_who_mask_shows_oneself_when_invisible(connect):
    alice = await connect("alice")
    await mode(alice, "alice", "+i")
    assert await reply_to(alice, "WHO alice") == [
        ":irc.test 352 alice * ~user 127.0.0.1 irc.test alice H :0 Real alice",
        ":irc.test 315 alice alice :End of WHO list",
    ]


async def test_who_of_a_channel_hides_invisible_members_from_outsiders(invisible_member, connect):
    bob = await connect("bob")
    assert await reply_to(bob, "WHO #a") == [
        ":irc.test 352 bob #a ~user 127.0.0.1 irc.test alice H@ :0 Real alice",
        ":irc.test 315 bob #a :End of WHO list",
    ]


async def test_names_of_a_channel_hides_invisible_members_from_outsiders(
    invisible_member, connect
):
    bob = await connect("bob")
    assert await reply_to(bob, "NAMES #a") == [
        ":irc.test 353 bob = #a @alice",
        ":irc.test 366 bob #a :End of /NAMES list",
    ]


async def test_names_of_a_channel_shows_invisible_members_to_members(invisible_member):
    assert await reply_to(invisible_member, "NAMES #a") == [
        ":irc.test 353 alice = #a :@alice carol",
        ":irc.test 366 alice #a :End of /NAMES list",
    ]


# -- LIST filters (ELIST=MNU) ------------------------------------------------------------


@pytest.fixture
async def three_channels(connect):
    """#one with 1 user, #two with 2, #three with 3; bob is on all three."""
    bob = await connect("bob")
    for count, channel in enumerate(("#one", "#two", "#three"), 1):
        await join(bob, channel)
        for i in range(count - 1):
            await join(await connect(f"u{channel[1:]}{i}"), channel)
    return bob


async def test_list_more_than_n_users(three_channels):
    assert await reply_to(three_channels, "LIST >1") == [
        LIST_START,
        ":irc.test 322 bob #two 2 :",
        ":irc.test 322 bob #three 3 :",
        LIST_END,
    ]


async def test_list_fewer_than_n_users(three_channels):
    assert await reply_to(three_channels, "LIST <3") == [
        LIST_START,
        ":irc.test 322 bob #one 1 :",
        ":irc.test 322 bob #two 2 :",
        LIST_END,
    ]


async def test_list_between_user_counts(three_channels):
    assert await reply_to(three_channels, "LIST >1,<3") == [
        LIST_START, ":irc.test 322 bob #two 2 :", LIST_END,
    ]


async def test_list_with_a_mask(three_channels):
    assert await reply_to(three_channels, "LIST #T*") == [
        LIST_START,
        ":irc.test 322 bob #two 2 :",
        ":irc.test 322 bob #three 3 :",
        LIST_END,
    ]


async def test_list_with_a_negated_mask(three_channels):
    assert await reply_to(three_channels, "LIST !*o*") == [
        LIST_START, ":irc.test 322 bob #three 3 :", LIST_END,
    ]


async def test_list_with_a_mask_and_a_count(three_channels):
    assert await reply_to(three_channels, "LIST #t*,<3") == [
        LIST_START, ":irc.test 322 bob #two 2 :", LIST_END,
    ]


async def test_list_with_a_mask_that_matches_nothing(three_channels):
    assert await reply_to(three_channels, "LIST #nothing*") == [LIST_START, LIST_END]
