"""`bridge run config/bridge.yaml`: run the IRC/XMPP relay of a config file.

    bridge run FILE [--log-level L]
    bridge check-config FILE

(The gateway is not started here: `words serve` starts it from its own config.)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bridge.relay.config import ConfigError, RelayConfig, load_config

__all__ = ["main"]


async def run_relay(config: RelayConfig) -> int:
    from bridge.relay.service import Relay

    relay = Relay(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, relay.stop)
    return await relay.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bridge", description="Relay IRC channels and XMPP rooms.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the relay of a config file")
    run.add_argument("config")
    run.add_argument("--log-level", default="INFO",
                     choices=["DEBUG", "INFO", "WARNING", "ERROR"], type=str.upper)
    check = sub.add_parser("check-config", help="check a config file and exit")
    check.add_argument("config")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    if args.cmd == "check-config":
        print(f"{args.config}: {len(config.pairs)} pair(s), {len(config.irc)} IRC network(s), "
              f"{len(config.xmpp)} XMPP account(s), OK")
        return 0
    logging.basicConfig(level=args.log_level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # slixmpp logs every stanza problem at length; its warnings are enough.
    logging.getLogger("slixmpp").setLevel(max(logging.WARNING, logging.getLogger().level))
    return asyncio.run(run_relay(config))
