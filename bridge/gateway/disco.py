"""Service discovery (XEP-0030), ping (XEP-0199) and MUC self-ping (XEP-0410).

The component is a gateway/irc and a conference/irc service; its items are
the channels a stranger may see (not +s or +p), and under the commands node
its ad-hoc commands (commands.py). A room's features say how
it is set up (members-only for +i, password-protected for +k, moderated for
+m). A ping to one's own occupant JID says whether one is still joined.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bridge.gateway import stanzas as S
from bridge.gateway.addresses import unescape_node
from bridge.gateway.commands import COMMANDS, COMMANDS_NS
from bridge.gateway.text import xml_safe

if TYPE_CHECKING:
    from bridge.gateway.gateway import Gateway
    from words.realm import Group

FEATURES = (S.DISCO_INFO, S.DISCO_ITEMS, S.MUC, S.PING, S.REGISTER, COMMANDS_NS,
            "urn:xmpp:sid:0", "jid\\20escaping")


class Disco:
    def __init__(self, gateway: Gateway) -> None:
        self.gw = gateway

    def _group(self, iq: Any) -> Group | None | bool:
        """The room an iq is for; None for an unknown room; False for the component itself."""
        to = iq["to"]
        if not to.node:
            return False
        channel = self.gw.muc.channel_of(to)
        return self.gw.realm.find_group(channel) if channel else None

    def _error(self, iq: Any, condition: str, etype: str, text: str) -> None:
        reply = iq.reply(clear=False)
        S.set_error(reply, condition, etype, text)
        reply.send()

    def on_info(self, iq: Any) -> None:
        if iq["type"] != "get":
            return
        group = self._group(iq)
        to = iq["to"]
        identities: list[tuple[str, str, str]]
        features: tuple[str, ...]
        if group is None and self.gw.muc.channel_of(to) is None:  # nick@component
            user = self.gw.realm.find_user(unescape_node(to.node))
            if user is None or not user.online:
                self._error(iq, "item-not-found", "cancel", "No such user")
                return
            identities, features = [("client", "pc", user.name)], (S.DISCO_INFO, S.PING)
        elif group is False:
            found = self._component_info(iq)
            if found is None:
                self._error(iq, "item-not-found", "cancel", "No such node")
                return
            identities, features = found
        elif group is None or not self._visible(group, iq):
            self._error(iq, "item-not-found", "cancel", "No such room")
            return
        elif to.resource:
            if self.gw.realm.find_user(to.resource) not in group.members:
                self._error(iq, "item-not-found", "cancel", "No such occupant")
                return
            identities, features = [("client", "pc", to.resource)], (S.DISCO_INFO, S.PING)
        else:
            identities = [("conference", "text", group.name)]
            features = self._room_features(group)
        reply = iq.reply()
        query = S.el(f"{{{S.DISCO_INFO}}}query", {"node": iq.xml.find(
            f"{{{S.DISCO_INFO}}}query").get("node")})
        for category, kind, name in identities:
            query.append(S.el(f"{{{S.DISCO_INFO}}}identity",
                              {"category": category, "type": kind, "name": name}))
        for feature in features:
            query.append(S.el(f"{{{S.DISCO_INFO}}}feature", {"var": feature}))
        reply.xml.append(query)
        reply.send()

    def _component_info(self, iq: Any) -> tuple[list[tuple[str, str, str]], tuple[str, ...]] | None:
        """The component's identities and features, or a command node's (None: no such node)."""
        node = iq.xml.find(f"{{{S.DISCO_INFO}}}query").get("node")
        if not node:
            name = f"{self.gw.config.network} IRC"
            return [("gateway", "irc", name), ("conference", "irc", name)], FEATURES
        if node == COMMANDS_NS:
            return [("automation", "command-list", "Ad-Hoc commands")], (S.DISCO_INFO,)
        names = dict(COMMANDS)
        if node in names:
            return ([("automation", "command-node", names[node])],
                    (S.DISCO_INFO, COMMANDS_NS, S.DATA_FORMS))
        return None

    @staticmethod
    def _room_features(group: Group) -> tuple[str, ...]:
        settings = group.settings
        return (
            S.MUC, S.DISCO_INFO, S.PING, "muc_semianonymous", "muc_open" if not settings.invite_only
            else "muc_membersonly", "muc_passwordprotected" if settings.key else "muc_unsecured",
            "muc_moderated" if settings.moderated else "muc_unmoderated",
            "muc_persistent" if not group.transient else "muc_temporary",
            "muc_hidden" if settings.secret or settings.private else "muc_public",
        )

    def _visible(self, group: Group, iq: Any) -> bool:
        """+s and +p rooms exist only for their occupants."""
        settings = group.settings
        if not (settings.secret or settings.private):
            return True
        return self.gw.session_in(iq["from"].bare, group) is not None

    def on_items(self, iq: Any) -> None:
        if iq["type"] != "get":
            return
        group = self._group(iq)
        reply = iq.reply()
        node = iq.xml.find(f"{{{S.DISCO_ITEMS}}}query").get("node")
        query = S.el(f"{{{S.DISCO_ITEMS}}}query", {"node": node})
        if group is False and node == COMMANDS_NS:
            for command, name in COMMANDS:
                query.append(S.el(f"{{{S.DISCO_ITEMS}}}item",
                                  {"jid": self.gw.domain, "node": command, "name": name}))
        elif group is False and node:
            self._error(iq, "item-not-found", "cancel", "No such node")
            return
        elif group is False:
            for room in sorted(self.gw.realm.groups.values(), key=lambda g: g.folded):
                # A channel name XML cannot carry (a control character) has no room JID.
                if not (room.settings.secret or room.settings.private) and (
                        xml_safe(room.name) == room.name):
                    query.append(S.el(f"{{{S.DISCO_ITEMS}}}item", {
                        "jid": self.gw.room_jid(room),
                        "name": f"{room.name} ({len(room.members)})",
                    }))
        elif group is None or not self._visible(group, iq):
            self._error(iq, "item-not-found", "cancel", "No such room")
            return
        # A room lists no items: occupants are known from presence (semi-anonymous).
        reply.xml.append(query)
        reply.send()

    def on_ping(self, iq: Any) -> None:
        if iq["type"] != "get":
            return
        to, sender = iq["to"], iq["from"]
        if to.node and to.resource:
            # XEP-0410: answered for a client joined to the room under that nick.
            channel = self.gw.muc.channel_of(to)
            folded = self.gw.realm.casefold(channel) if channel else ""
            session = self.gw.session_in(sender.bare, folded) if channel else None
            room = session.rooms.get(folded) if session is not None else None
            if room is None or sender.full not in room.resources:
                self._error(iq, "not-acceptable", "cancel", "You are not joined to this room")
                return
        elif to.node and self.gw.muc.channel_of(to) is None:
            user = self.gw.realm.find_user(unescape_node(to.node))
            if user is None or not user.online:
                self._error(iq, "service-unavailable", "cancel", "No such user")
                return
        iq.reply().send()
