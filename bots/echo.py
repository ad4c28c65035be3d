"""The echo bot: the classic Twisted IRC example, on asyncio.

- joins its channel once signed on;
- echoes a private message back to the sender;
- answers `echobot: text` in the channel with `sender: text`;
- imitates actions (`/me dances` -> the bot dances too);
- reconnects when the connection drops, and stops when it cannot be made
  (as the original's factory: clientConnectionFailed stops the reactor). Unlike
  the original, a reconnection that fails is retried with backoff, so a server
  restart does not end the bot.

    python -m bots.echo HOST PORT CHANNEL [--nick echobot] [--password PW]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bots.client import CHANNEL_PREFIXES, IRCClient
from bots.connector import ConnectionFailed, Connector, FatalError
from words.irc.codec import split_source

__all__ = ["EchoBot", "main"]


class EchoBot(IRCClient):
    def __init__(self, channel: str, nickname: str = "echobot", **kwargs) -> None:
        super().__init__(nickname, **kwargs)
        # As Twisted's join(): a channel without a prefix gets '#'.
        self.channel = channel if channel[:1] in CHANNEL_PREFIXES else "#" + channel

    def signed_on(self) -> None:
        self.join(self.channel)

    def privmsg(self, user: str, channel: str, message: str) -> None:
        sender = split_source(user)[0]
        if self.is_me(channel):
            self.msg(sender, message)
            return
        prefix = self.nickname + ":"
        if self.fold(message[: len(prefix)]) == self.fold(prefix):
            self.msg(channel, f"{sender}:{message[len(prefix):]}")

    def action(self, user: str, channel: str, data: str) -> None:
        target = split_source(user)[0] if self.is_me(channel) else channel
        self.describe(target, data)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bots.echo", description="The echo bot.")
    parser.add_argument("host")
    parser.add_argument("port", type=int)
    parser.add_argument("channel", help="a channel; '#' is added when missing")
    parser.add_argument("--nick", default="echobot")
    parser.add_argument("--password", help="the server password (PASS)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


async def run(args: argparse.Namespace) -> int:
    bot = EchoBot(args.channel, args.nick, password=args.password)
    connector = Connector(bot, args.host, args.port, retry_initial=False)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, connector.stop, "echobot stopping")
    try:
        await connector.run()
    except ConnectionFailed as e:
        logging.getLogger("bots.echo").error("%s", e)
        return 1
    except FatalError as e:
        logging.getLogger("bots.echo").error("the server refused us: %s", e)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
