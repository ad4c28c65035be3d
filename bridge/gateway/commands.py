"""Ad-hoc commands (XEP-0050) on the component: link, unlink, status.

slixmpp's xep_0050 plugin runs the command sessions; disco.py lists the
commands (the plugin's own disco, xep_0030, is unhooked: the gateway answers
disco itself). Linking is the same as the XEP-0077 form (Identity.link: the
Portal, the login throttling per account and per JID). A failed step is an
IQ error, and ends the session: the client starts the command again.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any, NoReturn

from bridge.gateway.identity import Refused

if TYPE_CHECKING:
    from bridge.gateway.gateway import Gateway

COMMANDS_NS = "http://jabber.org/protocol/commands"
# (node, name): what disco lists, in this order.
COMMANDS = (
    ("link", "Link this JID to an IRC account"),
    ("unlink", "Unlink this JID from its IRC account"),
    ("status", "Show this JID's account, nicks and rooms"),
)
# Command sessions open at once (forms not yet submitted); the oldest goes past it.
MAX_SESSIONS = 1000


class Sessions(OrderedDict):
    """xep_0050's session store, bounded: an abandoned form is dropped in time."""

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        while len(self) > MAX_SESSIONS:
            self.popitem(last=False)


class Commands:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    def setup(self, xmpp: Any) -> None:
        """Load the plugins on a new ComponentXMPP and add the commands."""
        xmpp.register_plugin("xep_0004")
        xmpp.register_plugin("xep_0050", {"session_db": Sessions()})
        # xep_0050 needs xep_0030, whose handlers would answer disco a second time.
        xmpp.remove_handler("Disco Info")
        xmpp.remove_handler("Disco Items")
        handlers = {"link": self._link, "unlink": self._unlink, "status": self._status}
        plugin = xmpp.plugin["xep_0050"]
        for node, name in COMMANDS:
            plugin.add_command(node=node, name=name, handler=handlers[node])
        # The plugin continues a session for whoever sends its id; only its starter may.
        xmpp.del_event_handler("command", plugin._handle_command_all)
        xmpp.add_event_handler("command", self._only_its_starter)

    async def _only_its_starter(self, iq: Any) -> None:
        from slixmpp.exceptions import XMPPError

        plugin = self.gw.xmpp.plugin["xep_0050"]
        session = plugin.sessions.get(iq["command"]["sessionid"])
        if session is not None and session["from"] != iq["from"]:
            raise XMPPError("item-not-found")  # another JID's session: as if there were none
        await plugin._handle_command_all(iq)

    # -- helpers -------------------------------------------------------------------

    def _form(self, ftype: str, title: str, instructions: str | None = None) -> Any:
        form = self.gw.xmpp.plugin["xep_0004"].make_form(ftype=ftype, title=title)
        if instructions:
            form["instructions"] = instructions
        return form

    def _fail(self, session: dict, condition: str, etype: str, text: str) -> NoReturn:
        """End the session with a stanza error (the plugin would keep a failed one)."""
        from slixmpp.exceptions import XMPPError

        if self.gw.xmpp is not None:
            self.gw.xmpp.plugin["xep_0050"].sessions.pop(session["id"], None)
        raise XMPPError(condition, text, etype)

    @staticmethod
    def _done(session: dict, note: str, payload: Any = None) -> dict:
        session.update(payload=payload, next=None, has_next=False,
                       notes=[("info", note)])
        return session

    # -- link ------------------------------------------------------------------------

    async def _link(self, iq: Any, session: dict) -> dict:
        jid = iq["from"].bare
        linked = await self.gw.realm.accounts.account_for_jid(jid)
        form = self._form("form", "Link to an IRC account", (
            f"Link {jid} to your account on {self.gw.config.network}: give the account "
            "name and its password. The password is checked once and not kept."))
        form.add_field(var="username", ftype="text-single", label="Account name",
                       required=True, value=linked or "")
        form.add_field(var="password", ftype="text-private", label="Password", required=True)
        session.update(payload=form, next=self._link_submitted, has_next=False)
        return session

    async def _link_submitted(self, payload: Any, session: dict) -> dict:
        values = self._values(payload, session)
        jid = session["from"].bare
        try:
            account = await self.gw.identity.link(jid, str(values.get("username") or ""),
                                                  str(values.get("password") or ""))
        except Refused as refused:
            self._fail(session, refused.condition, refused.etype, refused.text)
        return self._done(session, f"{jid} is linked to the account {account}.")

    def _values(self, payload: Any, session: dict) -> dict[str, Any]:
        from slixmpp.plugins.xep_0004 import Form

        if not isinstance(payload, Form) or payload["type"] != "submit":
            self._fail(session, "bad-request", "modify", "Submit the form")
        return payload.get_values()

    # -- unlink ----------------------------------------------------------------------

    async def _unlink(self, iq: Any, session: dict) -> dict:
        identity = self.gw.identity
        jid = iq["from"].bare
        account = await self.gw.realm.accounts.account_for_jid(jid)
        if account is not None and await identity.unlink(jid):
            now, how = await identity.describe(jid)
            after = {"trusted": f"now the account {now} by its domain",
                     "guest": "now a guest"}.get(how, "now unknown here")
            return self._done(session, f"{jid} is no longer linked to {account} ({after}).")
        _, how = await identity.describe(jid)
        if how == "trusted":
            self._fail(session, "not-allowed", "cancel",
                       f"{jid} is an account by its domain's rule, not by a link: "
                       "there is nothing to unlink")
        self._fail(session, "registration-required", "auth",
                   f"{jid} is not linked to an account here")

    # -- status ----------------------------------------------------------------------

    async def _status(self, iq: Any, session: dict) -> dict:
        gw = self.gw
        jid = iq["from"].bare
        account, how = await gw.identity.describe(jid)
        identity = {
            "linked": f"linked to the account {account}",
            "trusted": f"the account {account} (trusted domain {iq['from'].domain})",
            "guest": "a guest (no account)",
            "unknown": f"not known here: link it to an account first (command link, "
                       f"or register with {gw.domain})",
        }[how]
        nicks = []
        for user_session in gw.sessions.get(jid, ()):
            if user_session.user is None:
                continue
            rooms = sorted(room.group.name for room in user_session.rooms.values())
            nicks.append(f"{user_session.user.name}: {', '.join(rooms) or '(no room)'}")
        form = self._form("result", f"{jid} on {gw.config.network}")
        form.add_field(var="jid", ftype="jid-single", label="JID", value=jid)
        form.add_field(var="account", ftype="text-single", label="Account", value=account or "")
        form.add_field(var="identity", ftype="text-single", label="Identity", value=identity)
        form.add_field(var="nicks", ftype="text-multi", label="Nicks and their rooms",
                       value=nicks)
        return self._done(session, f"{jid} is {identity}; online as "
                                   f"{len(nicks)} nick{'s' if len(nicks) != 1 else ''}.", form)
