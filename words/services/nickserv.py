"""NickServ: accounts for clients that cannot register or log in by themselves.

REGISTER, IDENTIFY, LOGOUT, SET PASSWORD, INFO, GHOST, DROP, CERT and HELP,
answered with notices. It also looks after nick ownership: someone using a
registered nick without being logged in to its account is told so and, when
enforcement is on, renamed to Guest<digits> after a grace time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import weakref
from typing import TYPE_CHECKING

from words.cred import LoginFailed, LoginThrottled
from words.realm.events import AccountChanged, Event, Quit, Renamed, SignedOn
from words.services.accounts import RegistrationError
from words.services.base import ServiceBot, disconnect, when

if TYPE_CHECKING:
    from words.realm import User

log = logging.getLogger("words.services")

_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def normalize_fingerprint(text: str) -> str | None:
    """A SHA-256 fingerprint as stored (64 lower-case hex digits), or None if it is not one."""
    fp = text.replace(":", "").lower()
    return fp if _FINGERPRINT.fullmatch(fp) else None


class NickServ(ServiceBot):
    name = "NickServ"
    realname = "Nickname and account services"

    def __init__(self, services) -> None:
        super().__init__(services)
        # Per user: the nick check under way (a token) and the rename timer.
        self._checks: weakref.WeakKeyDictionary[User, object] = weakref.WeakKeyDictionary()
        self._timers: weakref.WeakKeyDictionary[User, asyncio.TimerHandle] = weakref.WeakKeyDictionary()

    @property
    def accounts(self):
        return self.realm.accounts

    @property
    def registrar(self):
        return self.services.registrar

    def _same(self, a: str | None, b: str | None) -> bool:
        return a is not None and b is not None and self.realm.casefold(a) == self.realm.casefold(b)

    def _logged_in(self, sender: User) -> bool:
        if sender.account:
            return True
        self.reply(sender, "You are not logged in. Send IDENTIFY <password> first.")
        return False

    # -- commands -----------------------------------------------------------------------

    async def do_REGISTER(self, sender: User, args: list[str]) -> None:
        """REGISTER <password>: register your current nick as an account, and log in to it.
        The nick then belongs to the account: log in with SASL, PASS nick:password or IDENTIFY.
        """
        if not args:
            self.usage(sender, "REGISTER")
            return
        if sender.account:
            self.reply(sender, f"You are already logged in as {sender.account}. LOGOUT first.")
            return
        name = sender.name
        try:
            account = await self.registrar.register(name, args[0])
        except RegistrationError as exc:
            self.reply(sender, f"{name} cannot be registered: {exc.text}.")
            return
        log.info("NickServ: %s registered the account %s", sender.mask, account.name)
        if sender.online:
            self.realm.set_account(sender, account.name)
        self.reply(sender, f"{account.name} is now registered, and you are logged in to it.")

    async def do_IDENTIFY(self, sender: User, args: list[str]) -> None:
        """IDENTIFY [account] <password>: log in to an account (yours by default: your nick's)."""
        if not args:
            self.usage(sender, "IDENTIFY")
            return
        name, password = (args[0], args[1]) if len(args) > 1 else (sender.name, args[0])
        if self._same(sender.account, name):
            self.reply(sender, f"You are already logged in as {sender.account}.")
            return
        try:
            account = await self.registrar.check(sender, name, password)
        except LoginThrottled:
            self.reply(sender, "Too many failed logins; try again later.")
            return
        except LoginFailed:
            self.reply(sender, f"Wrong password, or no account called {name}.")
            return
        if not sender.online:
            return
        self.realm.set_account(sender, account)
        self.reply(sender, f"You are now logged in as {account}.")

    async def do_LOGOUT(self, sender: User, args: list[str]) -> None:
        """LOGOUT: log out of your account."""
        if not self._logged_in(sender):
            return
        account = sender.account
        self.realm.set_account(sender, None)
        self.reply(sender, f"You are now logged out of {account}.")

    async def do_SET(self, sender: User, args: list[str]) -> None:
        """SET PASSWORD <new password>: change the password of your account."""
        if len(args) < 2 or args[0].upper() != "PASSWORD":
            self.usage(sender, "SET")
            return
        if not self._logged_in(sender):
            return
        account = sender.account
        try:
            changed = await self.registrar.set_password(account, args[1])
        except RegistrationError as exc:
            self.reply(sender, f"Password not changed: {exc.text}.")
            return
        if not changed:
            self.reply(sender, f"The account {account} no longer exists.")
            return
        self.reply(sender, f"The password of {account} is changed.")

    async def do_INFO(self, sender: User, args: list[str]) -> None:
        """INFO [nick]: who owns a nick (yours by default), and who is logged in to it."""
        name = args[0] if args else sender.name
        account = await self.accounts.get(name)
        online = self.realm.find_user(name)
        if account is None:
            if online is not None and online.online and online.account:
                self.reply(sender, f"{online.name} is not a registered nick, "
                                   f"but is logged in as {online.account}.")
            else:
                self.reply(sender, f"{name} is not registered.")
            return
        self.reply(sender, f"{account.name} is a registered account.")
        self.reply(sender, f"  Registered: {when(account.created)}")
        users = [u.name for u in list(self.realm.users.values())
                 if u.online and self._same(u.account, account.name)]
        self.reply(sender, "  Logged in now: " + (", ".join(sorted(users)) if users else "nobody"))
        if online is not None and online.online and not self._same(online.account, account.name):
            self.reply(sender, f"  {online.name} is in use by someone not logged in to it.")
        if self._same(sender.account, account.name):
            self.reply(sender, f"  Client certificates: {len(account.fingerprints)}")

    async def do_GHOST(self, sender: User, args: list[str]) -> None:
        """GHOST <nick> [password]: disconnect a session that uses your nick.
        Logged in to the nick's account, no password is needed.
        """
        if not args:
            self.usage(sender, "GHOST")
            return
        name = args[0]
        target = self.realm.find_user(name)
        if target is None or not target.online:
            self.reply(sender, f"{name} is not online.")
            return
        if target is sender:
            self.reply(sender, "You cannot ghost yourself.")
            return
        if target.mind is not None and isinstance(target.mind, ServiceBot):
            self.reply(sender, f"{target.name} is a service.")
            return
        account = await self.accounts.get(name)
        if account is None:
            self.reply(sender, f"{name} is not registered, so it cannot be ghosted.")
            return
        if not self._same(sender.account, account.name):
            if len(args) < 2:
                self.reply(sender, f"You are not logged in as {account.name}: "
                                   f"send GHOST {name} <password>.")
                return
            try:
                await self.registrar.check(sender, account.name, args[1])
            except LoginThrottled:
                self.reply(sender, "Too many failed logins; try again later.")
                return
            except LoginFailed:
                self.reply(sender, f"Wrong password for {account.name}.")
                return
        if target.online and self._same(target.name, name):
            log.info("NickServ: %s ghosted %s", sender.mask, target.mask)
            disconnect(self.realm, target, f"GHOST command used by {sender.name}")
            self.reply(sender, f"{name} has been disconnected.")
        else:
            self.reply(sender, f"{name} is not online any more.")

    async def do_DROP(self, sender: User, args: list[str]) -> None:
        """DROP <password>: delete your account, and the channels it founded."""
        if not args:
            self.usage(sender, "DROP")
            return
        if not self._logged_in(sender):
            return
        name = sender.account
        try:
            await self.registrar.check(sender, name, args[0])
        except LoginThrottled:
            self.reply(sender, "Too many failed logins; try again later.")
            return
        except LoginFailed:
            self.reply(sender, "Wrong password: the account is kept.")
            return
        if not await self.accounts.delete(name):
            self.reply(sender, f"There is no account {name} to drop.")
            return
        log.info("NickServ: %s dropped the account %s", sender.mask, name)
        folded = self.realm.casefold(name)
        for group in list(self.realm.groups.values()):
            if group.founder == folded:
                self.realm.drop_group(group)
            elif folded in group.access:
                self.realm.set_access(group, name, None)
        for user in list(self.realm.users.values()):
            if user.online and self._same(user.account, name):
                self.realm.set_account(user, None)
        self.reply(sender, f"The account {name} is dropped; you are logged out.")

    async def do_CERT(self, sender: User, args: list[str]) -> None:
        """CERT ADD [fingerprint] | CERT DEL <fingerprint> | CERT LIST: client certificates
        that log in to your account (SASL EXTERNAL). ADD without a fingerprint adds the
        certificate of your current connection. Fingerprints are SHA-256, in hex.
        """
        sub = args[0].upper() if args else ""
        if sub not in ("ADD", "DEL", "LIST") or (sub == "DEL" and len(args) < 2):
            self.usage(sender, "CERT")
            return
        if not self._logged_in(sender):
            return
        name = sender.account
        if sub == "LIST":
            account = await self.accounts.get(name)
            prints = account.fingerprints if account is not None else ()
            if not prints:
                self.reply(sender, f"{name} has no client certificates.")
            for fp in prints:
                self.reply(sender, f"  {fp}")
            if prints:
                self.reply(sender, f"End of the certificates of {name}.")
            return
        if len(args) > 1:
            fingerprint = normalize_fingerprint(args[1])
            if fingerprint is None:
                self.reply(sender, f"{args[1]} is not a SHA-256 fingerprint (64 hex digits).")
                return
        elif sender.certificate:
            fingerprint = sender.certificate
        else:
            self.reply(sender, "Your connection has no client certificate: "
                               "connect with one (TLS), or give its fingerprint: CERT ADD <sha256>.")
            return
        if sub == "ADD":
            if await self.accounts.add_fingerprint(name, fingerprint):
                self.reply(sender, f"Certificate {fingerprint} now logs in to {name}.")
            else:
                self.reply(sender, f"Certificate {fingerprint} is already registered to an account.")
        elif await self.accounts.remove_fingerprint(name, fingerprint):
            self.reply(sender, f"Certificate {fingerprint} removed from {name}.")
        else:
            self.reply(sender, f"{name} has no certificate {fingerprint}.")

    # -- nick ownership ---------------------------------------------------------------------

    @property
    def enforcing(self) -> bool:
        return self.services.enforce_nicks

    def on_event(self, event: Event) -> None:
        """Watch sign-ons, renames, logins and quits for nicks used by someone else."""
        kind = type(event)
        if kind is SignedOn or kind is Renamed or kind is AccountChanged:
            self._check(event.user)
        elif kind is Quit:
            self._forget(event.user)

    def cancel_timers(self) -> None:
        for timer in list(self._timers.values()):
            timer.cancel()
        self._timers.clear()
        self._checks.clear()

    def _forget(self, user: User) -> None:
        self._checks.pop(user, None)
        timer = self._timers.pop(user, None)
        if timer is not None:
            timer.cancel()

    def _check(self, user: User) -> None:
        self._forget(user)
        if not user.online or isinstance(user.mind, ServiceBot) or self.user is None:
            return
        if getattr(user.mind, "remote", False):  # another cluster node's user: its NickServ checks
            return
        token = object()
        self._checks[user] = token
        self.services.spawn(self._check_nick(user, user.name, token))

    async def _check_nick(self, user: User, name: str, token: object) -> None:
        account = await self.accounts.get(name)
        if self._checks.get(user) is not token or not user.online or user.name != name:
            return  # the user changed meanwhile: a newer check runs
        if account is None or self._same(user.account, account.name):
            self._checks.pop(user, None)
            return
        grace = self.services.config.services.nick_grace_seconds
        if self.enforcing:
            self.reply(user, f"{name} is a registered nick. If it is yours, send "
                             f"/msg NickServ IDENTIFY <password> within {grace:g} seconds, "
                             f"or your nick will be changed.")
            loop = asyncio.get_running_loop()
            self._timers[user] = loop.call_later(grace, self._enforce, user, name)
        else:
            self.reply(user, f"{name} is a registered nick. If it is yours, send "
                             f"/msg NickServ IDENTIFY <password>.")

    def _enforce(self, user: User, name: str) -> None:
        self._timers.pop(user, None)
        self._checks.pop(user, None)
        if not user.online or user.name != name or user.account and self._same(user.account, name):
            return
        guest = self._guest_nick()
        log.info("NickServ: renaming %s to %s (registered nick, not identified)", name, guest)
        self.reply(user, f"You did not identify for {name}: your nick is now {guest}.")
        self.realm.rename(user, guest)

    def _guest_nick(self) -> str:
        while True:
            guest = f"Guest{random.randint(10000, 99999)}"
            if self.realm.find_user(guest) is None:
                return guest
