"""`words account`, `words channel`, `words db`: the operator's tools for what is stored.

They work on the database named by `--database URL` or by the config's
`realm.database`, with the server running or not (SQLite in WAL mode and
PostgreSQL both allow it). Passwords are read without echo, or from
`--password-file` for scripts; only hashes are stored.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.table import Table

from words.casemap import get_casefold
from words.config import ConfigError, load_config
from words.console import table_console
from words.cred import DEFAULT_HASHER, PasswordHasher
from words.cred.scram import ScramVerifier
from words.realm.accounts import DuplicateAccount
from words.services.base import when
from words.store import (
    AccountStore,
    ChannelStore,
    Database,
    SchemaError,
    StoreError,
    check_schema,
)
from words.store.migrations import upgrade


class AdminError(Exception):
    pass


def add_parsers(sub: argparse._SubParsersAction) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", "-c", metavar="FILE", help="take the database from this config")
    common.add_argument("--database", metavar="URL", help="SQLAlchemy URL, e.g. sqlite:///words.db")

    account = sub.add_parser("account", help="manage accounts in the database")
    acts = account.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, helptext in (("add", "create an account"), ("passwd", "change a password")):
        p = acts.add_parser(name, parents=[common], help=helptext)
        p.add_argument("name")
        p.add_argument("--password-file", metavar="FILE",
                       help="read the password from the first line of FILE ('-' for stdin)")
    for name, helptext in (("del", "delete an account"), ("show", "show one account")):
        p = acts.add_parser(name, parents=[common], help=helptext)
        p.add_argument("name")
    acts.add_parser("list", parents=[common], help="list the accounts")

    channel = sub.add_parser("channel", help="manage registered channels")
    acts = channel.add_subparsers(dest="action", metavar="ACTION", required=True)
    acts.add_parser("list", parents=[common], help="list registered channels")
    for name, helptext in (("show", "show one channel"), ("drop", "unregister a channel")):
        p = acts.add_parser(name, parents=[common], help=helptext)
        p.add_argument("name")

    db = sub.add_parser("db", help="the database schema")
    acts = db.add_subparsers(dest="action", metavar="ACTION", required=True)
    acts.add_parser("upgrade", parents=[common], help="create or upgrade the schema")

    for parser, run in ((account, run_account), (channel, run_channel), (db, run_db)):
        parser.set_defaults(run=lambda args, run=run: _guard(run, args), help_auth=False)


def _guard(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    try:
        return run(args)
    except (AdminError, ConfigError, SchemaError, StoreError) as exc:
        print(f"words: error: {exc}", file=sys.stderr)
        return 2


def _open(
    args: argparse.Namespace, *, check: bool = True
) -> tuple[Database, Callable[[str], str], PasswordHasher, bool]:
    """The database, the casemapping, the hasher and whether SCRAM verifiers are kept."""
    config = load_config(args.config) if args.config else None
    url = args.database or (config.database if config else None)
    if not url:
        raise AdminError("no database: give --database URL or --config FILE with realm.database")
    if args.database:
        from words.store.database import resolve_url

        url = resolve_url(url, Path.cwd())
    casefold = get_casefold(config.casemapping if config else "rfc1459")
    hasher = PasswordHasher.from_config(config.hashing) if config and config.hashing else DEFAULT_HASHER
    db = Database(url)
    if check:
        check_schema(db)
    return db, casefold, hasher, bool(config and config.scram)


def _password(args: argparse.Namespace) -> str:
    if args.password_file:
        if args.password_file == "-":
            password = sys.stdin.readline()
        else:
            try:
                password = Path(args.password_file).read_text(encoding="utf-8").splitlines()[0]
            except (OSError, IndexError) as exc:
                raise AdminError(f"cannot read a password from {args.password_file}: {exc}") from None
        password = password.rstrip("\r\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise AdminError("the passwords differ")
    if not password:
        raise AdminError("empty password")
    return password


def run_account(args: argparse.Namespace) -> int:
    db, casefold, hasher, keep_scram = _open(args)
    store = AccountStore(db, casefold)
    console = table_console()
    try:
        if args.action in ("add", "passwd"):
            password = _password(args)
            digest = hasher.hash(password)
            scram = str(ScramVerifier.from_password(password)) if keep_scram else None
            if args.action == "add":
                try:
                    asyncio.run(store.create(args.name, digest, scram=scram))
                except DuplicateAccount:
                    raise AdminError(f"account {args.name} exists already") from None
                console.print(f"account {args.name} created")
            else:
                if not asyncio.run(store.set_password(args.name, digest, scram=scram)):
                    raise AdminError(f"no account {args.name}")
                console.print(f"password of {args.name} changed")
        elif args.action == "del":
            if not asyncio.run(store.delete(args.name)):
                raise AdminError(f"no account {args.name}")
            console.print(f"account {args.name} deleted")
        elif args.action == "list":
            table = Table("account", "created", "last seen", "certificates")
            for account in asyncio.run(store.all()):
                table.add_row(account.name, when(account.created), when(account.last_seen),
                              str(len(account.fingerprints)))
            console.print(table)
        else:  # show
            account = asyncio.run(store.get(args.name))
            if account is None:
                raise AdminError(f"no account {args.name}")
            table = Table.grid(padding=(0, 2))
            for key, value in (("account", account.name), ("created", when(account.created)),
                               ("last seen", when(account.last_seen)),
                               ("SCRAM", "yes" if account.scram else "no")):
                table.add_row(key, value)
            for fingerprint in account.fingerprints:
                table.add_row("certificate", fingerprint)
            console.print(table)
    finally:
        db.close()
    return 0


def run_channel(args: argparse.Namespace) -> int:
    db, casefold, _, _ = _open(args)
    store = ChannelStore(db, casefold)
    console = table_console()
    try:
        if args.action == "drop":
            if not asyncio.run(store.drop(args.name)):
                raise AdminError(f"no registered channel {args.name}")
            console.print(f"channel {args.name} dropped (a running server forgets it at its next restart)")
            return 0
        records = asyncio.run(store.all())
        if args.action == "list":
            table = Table("channel", "founder", "registered", "topic")
            for record in records:
                table.add_row(record.name, record.founder, when(record.created), record.topic)
            console.print(table)
            return 0
        record = next((r for r in records if casefold(r.name) == casefold(args.name)), None)
        if record is None:
            raise AdminError(f"no registered channel {args.name}")
        table = Table.grid(padding=(0, 2))
        rows: list[tuple[str, Any]] = [
            ("channel", record.name), ("founder", record.founder), ("registered", when(record.created)),
            ("topic", f"{record.topic} (by {record.topic_author}, {when(record.topic_time)})"
             if record.topic else "none"),
            ("modes", " ".join(f"{k}={v}" for k, v in sorted(record.settings.items()) if v) or "none"),
        ]
        rows += [(kind, f"{mask} (by {by})") for kind, mask, by, _ in record.masks]
        rows += [("access", f"{account} {level}") for account, level in sorted(record.access.items())]
        for key, value in rows:
            table.add_row(key, str(value))
        console.print(table)
    finally:
        db.close()
    return 0


def run_db(args: argparse.Namespace) -> int:
    db, _, _, _ = _open(args, check=False)
    try:
        before, after = upgrade(db)
    finally:
        db.close()
    print(f"schema at version {after}" + (f" (was {before})" if before != after else " (up to date)"))
    return 0
