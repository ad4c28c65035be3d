"""dice and choose: the parser, the bounds, and through a server."""

from __future__ import annotations

import random

import pytest

from bots.plugins.dice import roll_expression


def test_roll_expression_is_bounded_and_correct():
    rng = random.Random(1)
    total, rolls = roll_expression("3d6+2", rng=rng)
    assert len(rolls) == 3 and all(1 <= r <= 6 for r in rolls) and total == sum(rolls) + 2
    assert roll_expression("d1 - 1") == (0, [1])
    assert roll_expression("5") == (5, [])
    assert roll_expression("2d1+3d1-1d1") == (4, [1, 1, 1, 1, 1, 1])


@pytest.mark.parametrize("expr", [
    "101d6", "1d1001", "60d6+60d6", "0d6", "1d0", "abc", "3d6+", "3d6 2", "", "1+" * 11 + "1",
    "1d6+999999999",
])
def test_roll_rejects(expr):
    with pytest.raises(ValueError):
        roll_expression(expr)


async def test_dice_and_choose_through_the_server(bot_harness, irc_server):
    h = await bot_harness("dice", settings={"dice": {"max_dice": 5}}, server=irc_server)
    [reply] = await h.say("!roll 2d1+3")
    assert reply == "tester: 2d1+3 = 5 (1, 1)"
    [reply] = await h.say("!roll 6d6")
    assert reply == "tester: at most 5 dice of at most 1000 sides"
    [reply] = await h.say("!choose tea, coffee")
    assert reply in ("tester: tea", "tester: coffee")
    [reply] = await h.say("!choose a | b c")
    assert reply in ("tester: a", "tester: b c")
    [reply] = await h.say("!choose one")
    assert "at least two" in reply
