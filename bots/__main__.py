"""`python -m bots run config/bots.yaml`: run every bot of a config in one process.

    python -m bots run FILE [--log-level L]
    python -m bots check-config FILE
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from bots.config import BotConfig, ConfigError, load_config
from bots.connector import ConnectionFailed, Connector, FatalError
from bots.framework import Bot
from words.cred.credentials import UsernamePassword

log = logging.getLogger("bots")


def build_bot(cfg: BotConfig) -> Bot:
    creds = None
    if cfg.sasl_mechanism and cfg.sasl_mechanism != "EXTERNAL":
        creds = UsernamePassword(cfg.sasl_username or cfg.nick, cfg.sasl_password or "")
    return Bot(
        cfg.nick, prefix=cfg.prefix, channels=cfg.channels, owners=cfg.owners,
        owner_masks=cfg.owner_masks, admins=cfg.admins, admin_masks=cfg.admin_masks,
        settings=cfg.plugins, storage=cfg.storage, password=cfg.password,
        sasl_mechanism=cfg.sasl_mechanism, sasl_credentials=creds,
        burst=cfg.burst, rate=cfg.rate,
    )


async def run_bots(configs: list[BotConfig]) -> int:
    bots = [build_bot(cfg) for cfg in configs]
    for bot, cfg in zip(bots, configs):
        for name in cfg.plugins:
            await bot.load_plugin(name)
    connectors = [Connector(bot, cfg.server, cfg.port, tls=cfg.tls)
                  for bot, cfg in zip(bots, configs)]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for connector in connectors:
            connector.stop("shutting down")

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop)
    results = await asyncio.gather(*(c.run() for c in connectors), return_exceptions=True)
    status = 0
    for cfg, result in zip(configs, results):
        if isinstance(result, (ConnectionFailed, FatalError)):
            log.error("%s on %s:%s: %s", cfg.nick, cfg.server, cfg.port, result)
            status = 1
        elif isinstance(result, BaseException):
            log.error("%s crashed", cfg.nick, exc_info=result)
            status = 1
    for bot in bots:
        await bot.close()
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bots", description="Run IRC bots.")
    sub = parser.add_subparsers(dest="cmd", required=True)
    run = sub.add_parser("run", help="run the bots of a config file")
    run.add_argument("config")
    run.add_argument("--log-level", default="INFO")
    check = sub.add_parser("check-config", help="check a config file and its plugins")
    check.add_argument("config")
    args = parser.parse_args(argv)
    try:
        configs = load_config(args.config)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 2
    if args.cmd == "check-config":
        import importlib

        from bots.framework import resolve_plugin

        for i, cfg in enumerate(configs):
            for name in cfg.plugins:
                try:
                    importlib.import_module(resolve_plugin(name))
                except ImportError as e:
                    print(f"{args.config}: bots[{i}].plugins.{name}: cannot import: {e}",
                          file=sys.stderr)
                    return 2
        print(f"{args.config}: {len(configs)} bot(s), OK")
        return 0
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return asyncio.run(run_bots(configs))


if __name__ == "__main__":
    sys.exit(main())
