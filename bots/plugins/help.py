"""help: `!help` lists the commands; `!help roll` shows what roll does.

Built from the handlers' docstrings, so a plugin documents itself.
"""

from __future__ import annotations

from bots import command


def _commands(bot) -> dict[str, str]:
    found = {}
    for handler in bot.handlers:
        if handler.kind == "command":
            for name in handler.names:
                found.setdefault(name, handler.doc.splitlines()[0] if handler.doc else "")
    return found


@command("help", "commands")
def help_(ctx):
    """help [command]: the commands, or what one command does."""
    commands = _commands(ctx.bot)
    wanted = ctx.args.strip().lstrip(ctx.bot.prefix).lower()
    if not wanted:
        ctx.reply("commands: " + ", ".join(sorted(commands))
                  + f" (try {ctx.bot.prefix}help <command>)")
    elif wanted in commands:
        ctx.reply(ctx.bot.prefix + (commands[wanted] or f"{wanted}: no help written"))
    else:
        ctx.reply(f"no command {wanted!r}")
