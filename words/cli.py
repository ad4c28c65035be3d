"""The `words` command line: serve, check-config, hashpw."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from dataclasses import replace

from rich.table import Table

from words import __version__
from words.config import Config, ConfigError, load_config, parse_listen
from words.console import table_console
from words.cred import DEFAULT_HASHER, AuthSpecError, help_auth
from words.logs import LOG_FORMATS, setup_logging

log = logging.getLogger("words")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.help_auth:
        print(help_auth())
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    return args.run(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="words", description="words: IRC server, bots and XMPP gateway")
    parser.add_argument("--version", action="version", version=f"words {__version__}")
    parser.add_argument("--help-auth", action="store_true", help="list the kinds of --auth strings")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the IRC server in the foreground")
    serve.add_argument("--config", "-c", metavar="FILE", help="YAML configuration (default: built-in defaults)")
    serve.add_argument(
        "--listen", action="append", metavar="HOST:PORT",
        help="listen here instead of the config's addresses (repeatable)",
    )
    serve.add_argument(
        "--auth", action="append", metavar="SPEC",
        help="an auth string replacing the config's (repeatable; see --help-auth)",
    )
    serve.add_argument("--help-auth", action="store_true", help="list the kinds of --auth strings")
    serve.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    serve.add_argument(
        "--log-format", choices=list(LOG_FORMATS),
        help="text (rich on a terminal, plain otherwise) or json (one object a line)",
    )
    serve.add_argument(
        "--cluster", action="store_true",
        help="run as a node of a cluster (the config's cluster: section, or its defaults)",
    )
    serve.add_argument("--node", metavar="NAME", help="this node's name in the cluster (implies --cluster)")
    serve.set_defaults(run=_serve)

    check = sub.add_parser("check-config", help="validate a configuration file without starting")
    check.add_argument("file")
    check.set_defaults(run=_check_config, help_auth=False)

    hashpw = sub.add_parser("hashpw", help="print a password hash for a passwords file or config")
    hashpw.add_argument(
        "--stdin", action="store_true",
        help="read the password from the first line of stdin (default when stdin is not a terminal)",
    )
    hashpw.set_defaults(run=_hashpw, help_auth=False)

    from words.admin import add_parsers
    from words.cluster.status import add_parser as add_cluster_parser

    add_parsers(sub)
    add_cluster_parser(sub)
    return parser


def _fail(message: str) -> int:
    print(f"words: error: {message}", file=sys.stderr)
    return 2


def _load(args: argparse.Namespace) -> Config:
    config = load_config(args.config)
    if args.listen:
        try:
            listens = tuple(parse_listen(item) for item in args.listen)
        except ValueError as exc:
            raise ConfigError("--listen", "--listen", str(exc)) from None
        config = replace(config, listen=listens)
    if args.auth:
        config = replace(config, auth=tuple(args.auth))
    if args.log_level:
        config = replace(config, log_level=args.log_level)
    if args.log_format:
        config = replace(config, log_format=args.log_format)
    if args.cluster or args.node:
        config = _with_cluster(config, args.node)
    return config


def _with_cluster(config: Config, node: str | None) -> Config:
    """`--cluster` / `--node`: cluster mode on, with the config's settings or the defaults."""
    from words.cluster.settings import Cluster, check_node_name

    cluster = replace(config.cluster or Cluster(), enabled=True)
    if node:
        problem = check_node_name(node)
        if problem is not None:
            raise ConfigError("--node", "--node", problem)
        cluster = replace(cluster, node=node)
    if not config.database or not config.database.startswith("postgresql"):
        raise ConfigError(config.source, "cluster", "needs realm.database on PostgreSQL "
                          "(every node shares its accounts and channels)")
    return replace(config, cluster=cluster)


def _serve(args: argparse.Namespace) -> int:
    from words.app import build_server, serve
    from words.cluster import ClusterError
    from words.store.database import StoreError

    try:
        config = _load(args)
        server = build_server(config)
        server.listen_locked = bool(args.listen)  # else REHASH follows the file's `listen`
    except (ConfigError, AuthSpecError, ValueError) as exc:
        return _fail(str(exc))
    setup_logging(config.log_level, config.log_format)

    async def run() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(serve(server, ready))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            _print_summary(config, server)
        waiter.cancel()
        await task

    try:
        _event_loop_runner(config)(run())
    except OSError as exc:  # typically the address is already in use
        return _fail(f"cannot listen: {exc.strerror or exc}")
    except ImportError as exc:
        return _fail(f"{config.source}: event_loop: {exc}")
    except ClusterError as exc:
        return _fail(str(exc))
    except StoreError as exc:  # the database cannot be opened at start-up
        return _fail(f"{config.source}: realm.database: {exc}")
    if server.restart_requested:
        _restart()
    return 0


def _event_loop_runner(config: Config):
    """asyncio.run, or uvloop.run when the config asks for uvloop (an optional extra)."""
    if config.event_loop != "uvloop":
        return asyncio.run
    try:
        import uvloop
    except ImportError:
        raise ImportError("uvloop is not installed (pip install 'words[uvloop]')") from None
    return uvloop.run


def _restart() -> None:
    """RESTART: run the same command line again in this process (same PID, new server)."""
    log.warning("restarting: %s", " ".join(sys.orig_argv))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *sys.orig_argv[1:]])


def _print_summary(config: Config, server) -> None:
    console = table_console()
    table = Table.grid(padding=(0, 2))
    table.add_row("[bold]words[/bold]", __version__)
    for host, port in server.bound:
        table.add_row("listening", f"{host}:{port}")
    table.add_row("server", f"{config.server_name} ({config.network})")
    if config.database:
        from sqlalchemy.engine import make_url

        store = f"SQL ({make_url(config.database).render_as_string(hide_password=True)})"
    else:
        store = "in-memory"
    table.add_row("realm", f"{store} {config.realm!r}, casemapping {config.casemapping}")
    table.add_row("auth", ", ".join(spec.split(":", 1)[0] for spec in config.auth))
    metrics = getattr(server, "metrics", None)
    if metrics is not None and metrics.bound is not None:
        table.add_row("metrics", f"http://{metrics.bound[0]}:{metrics.bound[1]}/metrics")
    cluster = getattr(server, "cluster", None)
    if cluster is not None:
        from words.cluster.settings import redacted

        table.add_row("cluster", f"node {cluster.node} on {redacted(config.cluster.redis)} "
                                 f"(prefix {cluster.keys.prefix})")
    table.add_row("config", config.source)
    console.print(table)
    sys.stdout.flush()


def _check_config(args: argparse.Namespace) -> int:
    from words.app import build_server

    try:
        config = load_config(args.file)
        build_server(config)  # also checks the auth strings and hashing parameters
    except (ConfigError, AuthSpecError, ValueError) as exc:
        return _fail(str(exc))
    print(f"{args.file}: OK")
    return 0


def _hashpw(args: argparse.Namespace) -> int:
    if args.stdin or not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            return _fail("the passwords differ")
    if not password:
        return _fail("empty password")
    print(DEFAULT_HASHER.hash(password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
