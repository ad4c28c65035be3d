"""dice: `!roll 3d6+2` (bounded), `!choose tea, coffee` / `!choose a | b | c`.

Settings: max_dice (100), max_sides (1000), max_terms (10).
"""

from __future__ import annotations

import random
import re

from bots import command

_TERM = re.compile(r"([+-]?)(?:(\d*)d(\d+)|(\d+))", re.IGNORECASE)
_rng = random.SystemRandom()


def roll_expression(expr: str, max_dice: int = 100, max_sides: int = 1000,
                    max_terms: int = 10, rng: random.Random = _rng) -> tuple[int, list[int]]:
    """The total and the dice rolled for e.g. "3d6+2"; ValueError when invalid or too big."""
    expr = re.sub(r"\s*([+-])\s*", r"\1", expr.strip())
    if not expr or " " in expr:
        raise ValueError("nothing to roll")
    pos, total, rolls, dice_used, terms = 0, 0, [], 0, 0
    while pos < len(expr):
        m = _TERM.match(expr, pos)
        if not m or m.end() == pos or (pos > 0 and not m.group(1)):
            raise ValueError(f"cannot read {expr[pos:]!r}; try 3d6+2")
        terms += 1
        if terms > max_terms:
            raise ValueError(f"at most {max_terms} terms")
        sign = -1 if m.group(1) == "-" else 1
        if m.group(3) is not None:
            count = int(m.group(2) or 1)
            sides = int(m.group(3))
            dice_used += count
            if count < 1 or sides < 1:
                raise ValueError("dice need at least one die of at least one side")
            if dice_used > max_dice or sides > max_sides:
                raise ValueError(f"at most {max_dice} dice of at most {max_sides} sides")
            got = [rng.randint(1, sides) for _ in range(count)]
            rolls.extend(got)
            total += sign * sum(got)
        else:
            value = int(m.group(4))
            if value > max_dice * max_sides:
                raise ValueError("that modifier is too big")
            total += sign * value
        pos = m.end()
    return total, rolls


@command("roll", "dice")
def roll(ctx):
    """roll 3d6+2: roll dice (at most 100 dice of 1000 sides)."""
    s = ctx.settings
    expr = ctx.args or "1d6"
    try:
        total, rolls = roll_expression(expr, int(s.get("max_dice", 100)),
                                       int(s.get("max_sides", 1000)), int(s.get("max_terms", 10)))
    except ValueError as e:
        ctx.reply(str(e))
        return
    shown = ", ".join(map(str, rolls[:20])) + (", ..." if len(rolls) > 20 else "")
    ctx.reply(f"{expr.replace(' ', '')} = {total}" + (f" ({shown})" if rolls else ""))


@command("choose", "pick")
def choose(ctx):
    """choose tea, coffee: pick one (separate the choices with , or |)."""
    sep = "|" if "|" in ctx.args else ","
    options = [o.strip() for o in ctx.args.split(sep) if o.strip()]
    if len(options) < 2 and sep == ",":
        options = ctx.args.split()
    if len(options) < 2:
        ctx.reply("give me at least two choices, like: choose tea, coffee")
        return
    ctx.reply(_rng.choice(options[:100]))
