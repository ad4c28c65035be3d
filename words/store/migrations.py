"""Versioned schema migrations: a list of forward steps and a version row.

Simpler than Alembic for one schema that only moves forward: each step is a
function of a connection, run once, in order, in one transaction with the
version bump. A server refuses to start on a schema newer than it knows.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection, inspect, select

from words.store import schema
from words.store.database import Database


class SchemaError(RuntimeError):
    pass


def _v1(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[
        schema.accounts, schema.account_certs, schema.channels, schema.channel_masks,
        schema.channel_access,
    ])


def _v2(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.server_bans])


def _v3(conn: Connection) -> None:
    schema.metadata.create_all(conn, tables=[schema.history])


def _v4(conn: Connection) -> None:
    # JIDs linked to accounts by the XMPP gateway's registration form.
    schema.metadata.create_all(conn, tables=[schema.account_jids])


# Append new steps; never edit a step that has been released.
STEPS: list[Callable[[Connection], None]] = [_v1, _v2, _v3, _v4]
SCHEMA_VERSION = len(STEPS)


def _current(conn: Connection) -> int:
    if not inspect(conn).has_table("schema_version"):
        return 0
    version = conn.execute(select(schema.schema_version.c.version)).scalar()
    return int(version or 0)


def current_version(db: Database) -> int:
    return db.run_sync(_current, "reading the schema version")


def upgrade(db: Database) -> tuple[int, int]:
    """Bring the schema to SCHEMA_VERSION; returns (before, after)."""

    def step(conn: Connection) -> tuple[int, int]:
        schema.metadata.create_all(conn, tables=[schema.schema_version])
        before = _current(conn)
        if before > SCHEMA_VERSION:
            raise SchemaError(_too_new(before))
        for number in range(before, SCHEMA_VERSION):
            STEPS[number](conn)
        conn.execute(schema.schema_version.delete())
        conn.execute(schema.schema_version.insert().values(version=SCHEMA_VERSION))
        return before, SCHEMA_VERSION

    return db.run_sync(step, "upgrading the schema")


def check_schema(db: Database, *, auto_upgrade: bool = True) -> None:
    """At start: upgrade an older (or empty) schema, refuse a newer one."""
    version = current_version(db)
    if version > SCHEMA_VERSION:
        raise SchemaError(_too_new(version))
    if version < SCHEMA_VERSION:
        if not auto_upgrade:
            raise SchemaError(
                f"database schema is version {version}, this words needs {SCHEMA_VERSION}: "
                "run `words db upgrade`"
            )
        upgrade(db)


def _too_new(version: int) -> str:
    return (
        f"database schema is version {version}, newer than this words knows ({SCHEMA_VERSION}); "
        "upgrade words instead"
    )
