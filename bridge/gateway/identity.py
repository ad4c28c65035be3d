"""Who an XMPP user is on IRC: words.cred decides, from the bare JID.

The XMPP server authenticated the JID; the gateway asks the Portal with
`JIDCredentials` (no password is seen or stored for gateway users). The
checkers admit a trusted domain's JIDs as accounts, a linked JID as its
account, and others as guests or not at all (`xmpp.unknown_jids`).

A JID is linked once with the account's name and password through the
component's in-band registration (XEP-0077): the same Portal and the same
login throttling as IRC logins check them (failures counted per account
name and per JID). The ad-hoc commands (commands.py) link, unlink and tell
the same way.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge.gateway import stanzas as S
from bridge.gateway.session import XMPPSession
from words.cred import (
    JIDCredentials,
    LoginFailed,
    LoginThrottled,
    UnhandledCredentials,
    UsernamePassword,
)
from words.realm import ChatAvatar

if TYPE_CHECKING:
    from bridge.gateway.gateway import Gateway

log = logging.getLogger("bridge.gateway")

_IDENT_BAD = re.compile(r"[^A-Za-z0-9._\-]")
IDENT_LEN = 10  # as IRC's USERLEN


@dataclass
class Refused(Exception):
    """A link or unlink refused: the stanza error to answer with."""

    condition: str
    etype: str
    text: str


class Identity:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    @staticmethod
    def ident(local: str) -> str:
        """A JID's local part as an IRC user name (what bans match)."""
        return (_IDENT_BAD.sub("_", local) or "xmpp")[:IDENT_LEN]

    def username(self, jid: Any) -> str:
        return self.ident(jid.node or "xmpp")

    async def sign_in(self, stanza: Any, jid: str) -> XMPPSession | None:
        """A session for `jid` (not yet signed on), or None after answering with an error."""
        gw = self.gw
        session = XMPPSession(gw, jid, None)  # type: ignore[arg-type]
        try:
            _, avatar, _logout = await gw.portal.login(JIDCredentials(jid), session, ChatAvatar)
        except (LoginFailed, UnhandledCredentials):
            self._refuse(stanza)
            return None
        assert isinstance(avatar, ChatAvatar)
        session.avatar = avatar
        return session

    def _refuse(self, stanza: Any) -> None:
        reply = stanza.reply(clear=False)
        S.set_error(reply, "registration-required", "auth",
                    f"{stanza['from'].bare} is not known here: link it to your IRC account "
                    f"first (register with {self.gw.domain})")
        reply.send()

    # -- XEP-0077: linking a JID to an account ------------------------------------------------

    def on_register(self, iq: Any) -> None:
        if iq["to"].node:
            self._error(iq, "service-unavailable", "cancel", "Register with the gateway itself")
            return
        if iq["type"] == "get":
            self.gw.spawn(self._form(iq))
        elif iq["type"] == "set":
            self.gw.spawn(self._register(iq))

    async def _form(self, iq: Any) -> None:
        jid = iq["from"].bare
        linked = await self.gw.realm.accounts.account_for_jid(jid)
        reply = iq.reply()
        ns = S.REGISTER
        children = [S.el(f"{{{ns}}}instructions", text=(
            f"Link {jid} to your account on {self.gw.config.network}: give the account "
            "name and its password. The password is checked once and not kept."))]
        if linked is not None:
            children.append(S.el(f"{{{ns}}}registered"))
        children += [S.el(f"{{{ns}}}username", text=linked), S.el(f"{{{ns}}}password")]
        reply.xml.append(S.el(f"{{{ns}}}query", children=children))
        reply.send()

    async def _register(self, iq: Any) -> None:
        jid = iq["from"].bare
        query = iq.xml.find(f"{{{S.REGISTER}}}query")
        if query.find(f"{{{S.REGISTER}}}remove") is not None:
            await self.unlink(jid)
            iq.reply().send()
            return
        username = (query.findtext(f"{{{S.REGISTER}}}username") or "").strip()
        password = query.findtext(f"{{{S.REGISTER}}}password") or ""
        try:
            await self.link(jid, username, password)
        except Refused as refused:
            self._error(iq, refused.condition, refused.etype, refused.text)
            return
        iq.reply().send()

    # -- linking, shared by XEP-0077 and the ad-hoc commands ------------------------------------

    async def link(self, jid: str, username: str, password: str) -> str:
        """Link the bare `jid` to the account whose password this is; its stored name.

        Refused (with the stanza error to answer) for a wrong password, too many failures
        for the account name or for this JID, or an account the store does not keep."""
        gw = self.gw
        username = username.strip()
        if not username or not password:
            raise Refused("not-acceptable", "modify", "Give the account name and its password")
        try:
            _, avatar, _logout = await gw.portal.login(
                UsernamePassword(username, password), None, ChatAvatar, address=f"xmpp:{jid}")
        except LoginThrottled:
            raise Refused("resource-constraint", "wait",
                          "Too many failed logins; try again later") from None
        except (LoginFailed, UnhandledCredentials):
            log.info("XMPP: linking %s to %s refused", jid, username)
            raise Refused("not-authorized", "auth", "Unknown account or wrong password") from None
        assert isinstance(avatar, ChatAvatar)
        if not await gw.realm.accounts.link_jid(jid, avatar.account):
            raise Refused("not-authorized", "auth",
                          "Only accounts of this server can be linked (not file or memory logins)")
        log.info("XMPP: %s linked to the account %s", jid, avatar.account)
        self._relog(jid, avatar.account)
        return avatar.account

    async def unlink(self, jid: str) -> bool:
        """Remove `jid`'s link (False if it had none); its users online are what it is now."""
        if not await self.gw.realm.accounts.unlink_jid(jid):
            return False
        log.info("XMPP: %s unlinked", jid)
        account, _how = await self.describe(jid)
        self._relog(jid, account)
        return True

    def _relog(self, jid: str, account: str | None) -> None:
        """The JID's users online are logged in to `account` (or out) from now on."""
        for session in self.gw.sessions.get(jid, []):
            if session.user is not None:
                self.gw.realm.set_account(session.user, account)

    async def describe(self, jid: str) -> tuple[str | None, str]:
        """(account, how) words.cred sees the bare `jid` as now: how is "linked", "trusted"
        (a trusted domain's rule), "guest" (no account) or "unknown" (refused)."""
        try:
            # A lookup, not a login: an unknown JID asking is no failed login.
            _, avatar, _logout = await self.gw.portal.identify(JIDCredentials(jid), None, ChatAvatar)
        except (LoginFailed, UnhandledCredentials):
            return None, "unknown"
        assert isinstance(avatar, ChatAvatar)
        if not avatar.account:
            return None, "guest"
        linked = await self.gw.realm.accounts.account_for_jid(jid)
        return avatar.account, "linked" if linked == avatar.account else "trusted"

    def _error(self, iq: Any, condition: str, etype: str, text: str) -> None:
        reply = iq.reply(clear=False)
        S.set_error(reply, condition, etype, text)
        reply.send()
