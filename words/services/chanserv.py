"""ChanServ: registered channels, their founders and access lists.

A registered channel belongs to its founder's account and lasts when empty
(and, in the SQL realm, across restarts); on join the realm gives the founder
operator status and the access list its "op" and "voice" accounts theirs.
ChanServ only changes those through the realm.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from words.realm.errors import AlreadyRegistered
from words.services.base import ServiceBot

if TYPE_CHECKING:
    from words.realm import Group, User

log = logging.getLogger("words.services")

_RANK = {"founder": 3, "op": 2, "voice": 1, None: 0}
# Seconds a command waits for its change to be stored before answering without it.
_STORE_WAIT = 5.0
_DB_AWAY = "the database is unavailable right now"


class ChanServ(ServiceBot):
    name = "ChanServ"
    realname = "Channel services"

    def _group(self, sender: User, name: str, *, registered: bool = True) -> Group | None:
        group = self.realm.find_group(name) if name.startswith("#") else None
        if group is None:
            self.reply(sender, f"{name} does not exist.")
            return None
        if registered and group.founder is None:
            self.reply(sender, f"{group.name} is not registered.")
            return None
        return group

    def level(self, group: Group, user: User) -> str | None:
        """The user's standing in a registered group: "founder", "op", "voice" or None."""
        if not user.account or group.founder is None:
            return None
        account = self.realm.casefold(user.account)
        if account == group.founder:
            return "founder"
        return group.access.get(account)

    async def _flush(self) -> bool:
        """Wait until the store has the channel change (the SQL realm writes behind).

        False if it is not stored within _STORE_WAIT seconds (the database is
        away): the change stays in memory and is stored when it is back.
        """
        flush = getattr(self.realm, "flush", None)
        if flush is None:
            return True
        return await flush(timeout=_STORE_WAIT)

    def _store_away(self) -> bool:
        """Is the realm's database known to be unreachable right now?"""
        db = getattr(self.realm, "db", None)
        return db is not None and not db.available

    def _confirm(self, sender: User, stored: bool, text: str) -> None:
        if not stored:
            text += f" ({_DB_AWAY}: it will be stored when it is back)"
        self.reply(sender, text)

    # -- commands -----------------------------------------------------------------------

    async def do_REGISTER(self, sender: User, args: list[str]) -> None:
        """REGISTER <#channel>: register a channel you are an operator of, to your account."""
        if not args:
            self.usage(sender, "REGISTER")
            return
        group = self._group(sender, args[0], registered=False)
        if group is None:
            return
        if not sender.account:
            self.reply(sender, "You must be logged in to register a channel "
                               "(/msg NickServ IDENTIFY <password>).")
            return
        if "o" not in group.members.get(sender, ""):
            self.reply(sender, f"You must be an operator of {group.name} to register it.")
            return
        if self._store_away():
            log.error("ChanServ: could not register %s for %s: the database is unavailable",
                      group.name, sender.mask)
            self.reply(sender, f"{group.name} could not be registered: {_DB_AWAY}; try again later.")
            return
        try:
            self.realm.register_group(group, sender.account)
        except AlreadyRegistered:
            self.reply(sender, f"{group.name} is already registered.")
            return
        if not await self._flush():
            # Not stored in time: undone, so the user is told the truth. The drop is
            # queued after the registration, so the database ends up without either.
            self.realm.drop_group(group)
            log.error("ChanServ: could not register %s for %s: the database is unavailable",
                      group.name, sender.mask)
            self.reply(sender, f"{group.name} could not be registered: {_DB_AWAY}; try again later.")
            return
        log.info("ChanServ: %s registered %s", sender.mask, group.name)
        self.reply(sender, f"{group.name} is now registered to {sender.account}.")

    async def do_INFO(self, sender: User, args: list[str]) -> None:
        """INFO <#channel>: who founded a channel, and its access list size."""
        if not args:
            self.usage(sender, "INFO")
            return
        group = self._group(sender, args[0])
        if group is None:
            return
        self.reply(sender, f"{group.name} is registered to {group.founder}.")
        if group.topic:
            self.reply(sender, f"  Topic: {group.topic}")
        self.reply(sender, f"  Access list: {len(group.access)} accounts")

    async def _status(self, sender: User, args: list[str], command: str, status: str, add: bool) -> None:
        if not args:
            self.usage(sender, command)
            return
        group = self._group(sender, args[0])
        if group is None:
            return
        target = self.realm.find_user(args[1]) if len(args) > 1 else sender
        if target is None or target not in group.members:
            self.reply(sender, f"{args[1] if len(args) > 1 else sender.name} is not on {group.name}.")
            return
        mine = _RANK[self.level(group, sender)]
        if target is sender:
            # Taking status off yourself is always allowed; giving it needs the level.
            allowed = not add or mine >= _RANK[status]
        else:
            allowed = mine >= _RANK["op"]
        if not allowed:
            self.reply(sender, f"You do not have the access to do that on {group.name}.")
            return
        changed = self.realm.change_settings(group, [(status, add, target)], by=self.user)
        if not changed:
            state = "has" if add else "does not have"
            self.reply(sender, f"{target.name} already {state} {status} on {group.name}.")

    async def do_OP(self, sender: User, args: list[str]) -> None:
        """OP <#channel> [nick]: give operator status (to yourself by default)."""
        await self._status(sender, args, "OP", "op", True)

    async def do_DEOP(self, sender: User, args: list[str]) -> None:
        """DEOP <#channel> [nick]: take operator status away (from yourself by default)."""
        await self._status(sender, args, "DEOP", "op", False)

    async def do_VOICE(self, sender: User, args: list[str]) -> None:
        """VOICE <#channel> [nick]: give voice (to yourself by default)."""
        await self._status(sender, args, "VOICE", "voice", True)

    async def do_ACCESS(self, sender: User, args: list[str]) -> None:
        """ACCESS <#channel> ADD <account> op|voice | DEL <account> | LIST: the accounts
        given operator status or voice on join. The founder changes it; its members see it.
        """
        sub = args[1].upper() if len(args) > 1 else ""
        if (sub not in ("ADD", "DEL", "LIST") or (sub == "ADD" and len(args) < 4)
                or (sub == "DEL" and len(args) < 3)):
            self.usage(sender, "ACCESS")
            return
        group = self._group(sender, args[0])
        if group is None:
            return
        mine = self.level(group, sender)
        if sub == "LIST":
            if mine is None and sender not in group.members:
                self.reply(sender, f"You have no access to {group.name}.")
                return
            self.reply(sender, f"Access list of {group.name} (founder {group.founder}):")
            for account, level in sorted(group.access.items()):
                self.reply(sender, f"  {account} {level}")
            self.reply(sender, "End of the access list.")
            return
        if mine != "founder":
            self.reply(sender, f"Only the founder of {group.name} may change its access list.")
            return
        name = args[2]
        if sub == "DEL":
            if self.realm.casefold(name) not in group.access:
                self.reply(sender, f"{name} is not on the access list of {group.name}.")
                return
            self.realm.set_access(group, name, None)
            self._confirm(sender, await self._flush(), f"{name} is removed from the access list of {group.name}.")
            return
        level = args[3].lower()
        if level not in ("op", "voice"):
            self.reply(sender, "The level is op or voice.")
            return
        account = await self.services.realm.accounts.get(name)
        if account is None:
            self.reply(sender, f"There is no account called {name}.")
            return
        self.realm.set_access(group, account.name, level)
        self._confirm(sender, await self._flush(), f"{account.name} now gets {level} on {group.name}.")

    async def do_DROP(self, sender: User, args: list[str]) -> None:
        """DROP <#channel>: unregister a channel you founded."""
        if not args:
            self.usage(sender, "DROP")
            return
        group = self._group(sender, args[0])
        if group is None:
            return
        if self.level(group, sender) != "founder":
            self.reply(sender, f"Only the founder of {group.name} may drop it.")
            return
        name = group.name
        self.realm.drop_group(group)
        stored = await self._flush()
        log.info("ChanServ: %s dropped %s", sender.mask, name)
        self._confirm(sender, stored, f"{name} is no longer registered.")
