"""Accounts: name, password hash, certificate fingerprints, SCRAM verifier."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from words.realm.accounts import Account, DuplicateAccount
from words.store import schema
from words.store.database import Database

accounts, certs, jids = schema.accounts, schema.account_certs, schema.account_jids


class AccountStore:
    """Account operations, each one transaction on the database thread.

    `casefold` is the realm's, so account names compare the way nicks do.
    The command line runs these with asyncio.run.
    """

    def __init__(self, db: Database, casefold: Callable[[str], str]) -> None:
        self.db = db
        self.casefold = casefold

    async def create(self, name: str, password_hash: str, *, scram: str | None = None) -> Account:
        """Store a new account; returns only after the commit. DuplicateAccount if taken."""
        now = time.time()

        def op(conn: Connection) -> None:
            try:
                with conn.begin_nested():
                    conn.execute(insert(accounts).values(
                        name=name, folded=self.casefold(name), password_hash=password_hash,
                        created=now, scram=scram,
                    ))
            except IntegrityError:
                raise DuplicateAccount(name) from None

        await self.db.run(op, f"creating account {name}")
        return Account(name, password_hash, now, scram=scram)

    async def get(self, name: str) -> Account | None:
        folded = self.casefold(name)
        return await self.db.run(
            lambda conn: self._one(conn, accounts.c.folded == folded), f"reading account {name}"
        )

    async def find_by_fingerprint(self, fingerprint: str) -> Account | None:
        ids = select(certs.c.account_id).where(certs.c.fingerprint == fingerprint.lower())
        return await self.db.run(
            lambda conn: self._one(conn, accounts.c.id.in_(ids)), "looking up a certificate"
        )

    async def all(self) -> list[Account]:
        def op(conn: Connection) -> list[Account]:
            rows = conn.execute(select(accounts).order_by(accounts.c.folded)).all()
            return [self._account(conn, row) for row in rows]

        return await self.db.run(op, "listing accounts")

    async def set_password(self, name: str, password_hash: str, *, scram: str | None = None) -> bool:
        return await self._update(name, f"changing the password of {name}",
                                  password_hash=password_hash, scram=scram)

    async def touch(self, name: str) -> bool:
        return await self._update(name, f"updating {name}", last_seen=time.time())

    async def delete(self, name: str) -> bool:
        folded = self.casefold(name)
        return await self.db.run(
            lambda conn: conn.execute(delete(accounts).where(accounts.c.folded == folded)).rowcount > 0,
            f"deleting account {name}",
        )

    async def add_fingerprint(self, name: str, fingerprint: str) -> bool:
        """Bind a certificate (SHA-256, hex) to the account; False if no such account or taken."""
        folded = self.casefold(name)

        def op(conn: Connection) -> bool:
            account_id = conn.execute(select(accounts.c.id).where(accounts.c.folded == folded)).scalar()
            if account_id is None:
                return False
            try:
                with conn.begin_nested():
                    conn.execute(insert(certs).values(account_id=account_id, fingerprint=fingerprint.lower()))
            except IntegrityError:
                return False
            return True

        return await self.db.run(op, f"adding a certificate to {name}")

    async def remove_fingerprint(self, name: str, fingerprint: str) -> bool:
        ids = select(accounts.c.id).where(accounts.c.folded == self.casefold(name))
        return await self.db.run(
            lambda conn: conn.execute(delete(certs).where(
                certs.c.account_id.in_(ids), certs.c.fingerprint == fingerprint.lower()
            )).rowcount > 0,
            f"removing a certificate from {name}",
        )

    async def link_jid(self, jid: str, name: str) -> bool:
        """Bind the bare `jid` to the account (replacing an older link); False if no account."""
        folded, jid = self.casefold(name), jid.lower()

        def op(conn: Connection) -> bool:
            account_id = conn.execute(select(accounts.c.id).where(accounts.c.folded == folded)).scalar()
            if account_id is None:
                return False
            conn.execute(delete(jids).where(jids.c.jid == jid))
            conn.execute(insert(jids).values(account_id=account_id, jid=jid))
            return True

        return await self.db.run(op, f"linking {jid} to {name}")

    async def unlink_jid(self, jid: str) -> bool:
        jid = jid.lower()
        return await self.db.run(
            lambda conn: conn.execute(delete(jids).where(jids.c.jid == jid)).rowcount > 0,
            f"unlinking {jid}",
        )

    async def account_for_jid(self, jid: str) -> str | None:
        """The stored spelling of the account `jid` is linked to, or None."""
        query = select(accounts.c.name).join(jids, jids.c.account_id == accounts.c.id).where(
            jids.c.jid == jid.lower()
        )
        return await self.db.run(lambda conn: conn.execute(query).scalar(), f"looking up {jid}")

    # -- helpers --------------------------------------------------------------------

    async def _update(self, name: str, what: str, **values: Any) -> bool:
        folded = self.casefold(name)
        return await self.db.run(
            lambda conn: conn.execute(
                update(accounts).where(accounts.c.folded == folded).values(**values)
            ).rowcount > 0,
            what,
        )

    def _one(self, conn: Connection, condition) -> Account | None:
        row = conn.execute(select(accounts).where(condition)).first()
        return self._account(conn, row) if row else None

    @staticmethod
    def _account(conn: Connection, row) -> Account:
        prints = conn.execute(
            select(certs.c.fingerprint).where(certs.c.account_id == row.id).order_by(certs.c.fingerprint)
        ).scalars().all()
        return Account(row.name, row.password_hash, row.created, row.last_seen, tuple(prints), row.scram)
