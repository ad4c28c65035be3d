"""bots: a bot framework on the IRC client protocol (see issue 6).

`IRCClient` is Twisted's client protocol on asyncio; `Bot` adds plugins of
decorated functions; `python -m bots run config/bots.yaml` runs bots from a
config file.
"""

from bots.client import IRCClient
from bots.framework import (
    Bot,
    Context,
    command,
    event,
    interval,
    require_account,
    require_admin,
    require_chanop,
    require_owner,
    require_private,
    rule,
)

__all__ = [
    "Bot",
    "Context",
    "IRCClient",
    "command",
    "event",
    "interval",
    "require_account",
    "require_admin",
    "require_chanop",
    "require_owner",
    "require_private",
    "rule",
]
