"""Ad-hoc commands (XEP-0050) on the component: link, unlink, status, and their disco."""

from __future__ import annotations

import pytest
from gateway_support import join, register
from slixmpp.exceptions import IqError

from words.cred import PasswordHasher

COMMANDS = "http://jabber.org/protocol/commands"
DISCO_INFO = "{http://jabber.org/protocol/disco#info}"
DISCO_ITEMS = "{http://jabber.org/protocol/disco#items}"


def with_commands(client):
    client.register_plugin("xep_0004")
    client.register_plugin("xep_0050")
    return client


async def command(client, node: str, action: str = "execute", sessionid: str | None = None,
                  **values: str):
    """Run one step of a command on the component; with `values`, a submitted form."""
    iq = client.make_iq_set(ito="irc.localhost")
    iq["command"]["node"] = node
    iq["command"]["action"] = action
    if sessionid:
        iq["command"]["sessionid"] = sessionid
    if values:
        form = client.plugin["xep_0004"].make_form(ftype="submit")
        for var, value in values.items():
            form.add_field(var=var, value=value)
        iq["command"].append(form)
    return await iq.send(timeout=10)


async def link(client, username: str, password: str):
    """The link command: the form, then the form submitted."""
    form = await command(client, "link")
    assert form["command"]["status"] == "executing"
    assert form["command"]["actions"] == {"complete"}
    return await command(client, "link", "complete", form["command"]["sessionid"],
                         username=username, password=password)


def fields(reply) -> dict:
    return reply["command"]["form"].get_values()


async def failed(step) -> IqError:
    with pytest.raises(IqError) as refused:
        await step
    return refused.value


async def test_the_commands_are_in_disco(gateway_server, xmpp_user):
    await gateway_server()
    alice = await xmpp_user("alice")
    info = await alice.make_iq_get(queryxmlns="http://jabber.org/protocol/disco#info",
                                   ito="irc.localhost").send(timeout=10)
    assert COMMANDS in {f.get("var") for f in info.xml.iter(f"{DISCO_INFO}feature")}
    items = alice.make_iq_get(queryxmlns="http://jabber.org/protocol/disco#items",
                              ito="irc.localhost")
    items.xml.find(f"{DISCO_ITEMS}query").set("node", COMMANDS)
    listed = await items.send(timeout=10)
    assert [(i.get("jid"), i.get("node"), i.get("name"))
            for i in listed.xml.iter(f"{DISCO_ITEMS}item")] == [
        ("irc.localhost", "link", "Link this JID to an IRC account"),
        ("irc.localhost", "unlink", "Unlink this JID from its IRC account"),
        ("irc.localhost", "status", "Show this JID's account, nicks and rooms"),
    ]
    node = alice.make_iq_get(queryxmlns="http://jabber.org/protocol/disco#info",
                             ito="irc.localhost")
    node.xml.find(f"{DISCO_INFO}query").set("node", "link")
    described = await node.send(timeout=10)
    identity = described.xml.find(f"{DISCO_INFO}query/{DISCO_INFO}identity")
    assert (identity.get("category"), identity.get("type")) == ("automation", "command-node")
    assert {f.get("var") for f in described.xml.iter(f"{DISCO_INFO}feature")} >= {
        COMMANDS, "jabber:x:data"}
    node.xml.find(f"{DISCO_INFO}query").set("node", "no-such-node")
    node["id"] = "other"
    assert (await failed(node.send(timeout=10))).condition == "item-not-found"


async def test_link_with_a_wrong_then_the_right_password(gateway_server, xmpp_user):
    server = await gateway_server(unknown_jids="refuse")
    await server.realm.accounts.create("carol", PasswordHasher(ln=4).hash("carolpass"))
    carol = with_commands(await xmpp_user("carol"))
    form = await command(carol, "link")
    assert [(var, field["type"], field["required"])
            for var, field in form["command"]["form"].get_fields().items()] == [
        ("username", "text-single", True), ("password", "text-private", True)]

    wrong = await failed(link(carol, "carol", "not-her-password"))
    assert (wrong.condition, wrong.text) == ("not-authorized", "Unknown account or wrong password")
    assert await server.realm.accounts.account_for_jid(carol.boundjid.bare) is None
    empty = await failed(link(carol, "carol", ""))
    assert (empty.condition, empty.text) == (
        "not-acceptable", "Give the account name and its password")

    done = await link(carol, "carol", "carolpass")
    assert done["command"]["status"] == "completed"
    assert done["command"]["notes"] == [
        ("info", f"{carol.boundjid.bare} is linked to the account carol.")]
    assert await server.realm.accounts.account_for_jid(carol.boundjid.bare) == "carol"
    await join(carol, "#linked", "carol")
    assert server.realm.find_user("carol").account == "carol"
    # The form shows the link now.
    again = await command(carol, "link")
    assert fields(again)["username"] == "carol"


async def test_link_shares_the_login_throttle_with_the_registration_form(
        gateway_server, xmpp_user):
    server = await gateway_server(unknown_jids="refuse",
                                  limits={"login_failures_per_address": 2})
    await server.realm.accounts.create("ivy", PasswordHasher(ln=4).hash("ivypass1"))
    ivy = with_commands(await xmpp_user("ivy"))
    with pytest.raises(IqError):
        await register(ivy, "someone", "guess")  # XEP-0077
    assert (await failed(link(ivy, "other", "guess"))).condition == "not-authorized"
    throttled = await failed(link(ivy, "ivy", "ivypass1"))  # right, but this JID is blocked
    assert (throttled.condition, throttled.text) == (
        "resource-constraint", "Too many failed logins; try again later")
    assert await server.realm.accounts.account_for_jid(ivy.boundjid.bare) is None


async def test_unlink_refuses_jids_without_a_link(gateway_server, xmpp_user):
    server = await gateway_server(trusted_domains=("elsewhere.localhost",))  # guests allowed
    await server.realm.accounts.create("dan", PasswordHasher(ln=4).hash("danpass1"))
    dan = with_commands(await xmpp_user("dan"))
    refused = await failed(command(dan, "unlink"))
    assert (refused.condition, refused.text) == (
        "registration-required", f"{dan.boundjid.bare} is not linked to an account here")

    await link(dan, "dan", "danpass1")
    await join(dan, "#unlink", "dan")
    user = server.realm.find_user("dan")
    assert user.account == "dan"
    done = await command(dan, "unlink")
    assert done["command"]["status"] == "completed"
    assert done["command"]["notes"] == [
        ("info", f"{dan.boundjid.bare} is no longer linked to dan (now a guest).")]
    assert await server.realm.accounts.account_for_jid(dan.boundjid.bare) is None
    assert user.account is None  # online, a guest from now on
    assert (await failed(command(dan, "unlink"))).condition == "registration-required"


async def test_unlink_of_a_trusted_domains_jid_is_not_allowed(gateway_server, xmpp_user):
    await gateway_server(trusted_domains=("localhost",))
    erin = with_commands(await xmpp_user("erin"))
    refused = await failed(command(erin, "unlink"))
    assert refused.condition == "not-allowed"
    assert refused.text == (f"{erin.boundjid.bare} is an account by its domain's rule, "
                            "not by a link: there is nothing to unlink")


async def test_status_tells_the_identity_nicks_and_rooms(gateway_server, xmpp_user):
    server = await gateway_server(trusted_domains=("elsewhere.localhost",))
    await server.realm.accounts.create("gus", PasswordHasher(ln=4).hash("guspass1"))
    gus = with_commands(await xmpp_user("gus"))
    status = await command(gus, "status")
    assert status["command"]["status"] == "completed"
    assert fields(status) == {"jid": gus.boundjid.bare, "account": "",
                              "identity": "a guest (no account)", "nicks": None}
    assert status["command"]["notes"] == [
        ("info", f"{gus.boundjid.bare} is a guest (no account); online as 0 nicks.")]

    await link(gus, "gus", "guspass1")
    await join(gus, "#one", "gus")
    await join(gus, "#two", "gus")
    await join(gus, "#three", "gussy")
    status = await command(gus, "status")
    assert fields(status) == {"jid": gus.boundjid.bare, "account": "gus",
                              "identity": "linked to the account gus",
                              "nicks": ["gus: #one, #two", "gussy: #three"]}

    trusted = with_commands(await xmpp_user("hal", domain="elsewhere.localhost"))
    status = await command(trusted, "status")
    assert fields(status)["identity"] == (
        f"the account {trusted.boundjid.user} (trusted domain elsewhere.localhost)")
    assert fields(status)["account"] == trusted.boundjid.user


async def test_status_of_an_unknown_jid_says_how_to_link(gateway_server, xmpp_user):
    server = await gateway_server(unknown_jids="refuse")
    kim = with_commands(await xmpp_user("kim"))
    status = await command(kim, "status")
    assert fields(status)["identity"] == (
        "not known here: link it to an account first (command link, or register with "
        "irc.localhost)")
    assert fields(status)["account"] == ""
    assert (await failed(command(kim, "unlink"))).condition == "registration-required"
    # Asking who one is is no failed login (words_login_failures_total counts these).
    assert server.portal.throttle.failures_total == 0


async def test_a_command_session_is_only_its_starters(gateway_server, xmpp_user):
    """Another JID that learns a session id cannot complete that session (here: link the
    starter's JID to an account of the intruder's choosing)."""
    server = await gateway_server(unknown_jids="refuse")
    await server.realm.accounts.create("mal", PasswordHasher(ln=4).hash("malpass1"))
    victim = with_commands(await xmpp_user("victim"))
    intruder = with_commands(await xmpp_user("mal"))
    form = await command(victim, "link")
    sessionid = form["command"]["sessionid"]
    refused = await failed(command(intruder, "link", "complete", sessionid,
                                   username="mal", password="malpass1"))
    assert refused.condition == "item-not-found"
    assert await server.realm.accounts.account_for_jid(victim.boundjid.bare) is None
    # The starter's session is still there for the starter.
    await server.realm.accounts.create("vic", PasswordHasher(ln=4).hash("vicpass1"))
    done = await command(victim, "link", "complete", sessionid, username="vic",
                         password="vicpass1")
    assert done["command"]["status"] == "completed"
    assert await server.realm.accounts.account_for_jid(victim.boundjid.bare) == "vic"
