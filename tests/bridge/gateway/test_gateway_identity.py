"""Who an XMPP user is: trusted domains, JIDs linked with the account's password, refusals."""

from __future__ import annotations

import pytest
from gateway_support import join, register
from slixmpp.exceptions import IqError, PresenceError
from xmpp_support import OTHER_DOMAIN

from words.cred import PasswordHasher

REGISTER = "{jabber:iq:register}"


async def test_unknown_jids_are_refused_until_linked_with_the_right_password(
        gateway_server, xmpp_user):
    server = await gateway_server(unknown_jids="refuse")
    await server.realm.accounts.create("carol", PasswordHasher(ln=4).hash("carolpass"))
    carol = await xmpp_user("carol")
    with pytest.raises(PresenceError) as refused:
        await join(carol, "#members", "carol")
    assert refused.value.condition == "registration-required"
    assert "register with irc.localhost" in refused.value.text

    # The form, then a wrong password: not-authorized, nothing linked.
    form = await carol.make_iq_get(queryxmlns="jabber:iq:register", ito="irc.localhost").send(
        timeout=10)
    query = form.xml.find(f"{REGISTER}query")
    assert query.find(f"{REGISTER}username") is not None
    assert query.find(f"{REGISTER}password") is not None
    assert query.find(f"{REGISTER}registered") is None
    with pytest.raises(IqError) as wrong:
        await register(carol, "carol", "not-her-password")
    assert wrong.value.condition == "not-authorized"
    assert await server.realm.accounts.account_for_jid(carol.boundjid.bare) is None

    # The right one links the JID: she joins, logged in to her account, no password kept.
    await register(carol, "carol", "carolpass")
    assert await server.realm.accounts.account_for_jid(carol.boundjid.bare) == "carol"
    await join(carol, "#members", "carol")
    user = server.realm.find_user("carol")
    assert user.account == "carol"
    form = await carol.make_iq_get(queryxmlns="jabber:iq:register", ito="irc.localhost").send(
        timeout=10)
    assert form.xml.find(f"{REGISTER}query/{REGISTER}registered") is not None
    assert form.xml.findtext(f"{REGISTER}query/{REGISTER}username") == "carol"
    await register(carol, None, None, remove=True)
    assert await server.realm.accounts.account_for_jid(carol.boundjid.bare) is None


async def test_linking_is_throttled_like_irc_logins(gateway_server, xmpp_user):
    server = await gateway_server(unknown_jids="refuse")
    await server.realm.accounts.create("dora", PasswordHasher(ln=4).hash("dorapass1"))
    dora = await xmpp_user("dora")
    limit = server.config.limits.login_failures_per_account
    for _ in range(limit):
        with pytest.raises(IqError) as wrong:
            await register(dora, "dora", "wrong")
        assert wrong.value.condition == "not-authorized"
    with pytest.raises(IqError) as throttled:
        await register(dora, "dora", "dorapass1")  # right, but too late
    assert throttled.value.condition == "resource-constraint"


async def test_one_jid_trying_many_account_names_is_throttled(gateway_server, xmpp_user):
    server = await gateway_server(unknown_jids="refuse",
                                  limits={"login_failures_per_address": 3})
    await server.realm.accounts.create("hana", PasswordHasher(ln=4).hash("hanapass1"))
    mallory = await xmpp_user("mallory")
    for name in ("hana1", "hana2", "hana3"):  # a new name each time: no account's limit
        with pytest.raises(IqError) as wrong:
            await register(mallory, name, "guess")
        assert wrong.value.condition == "not-authorized"
    with pytest.raises(IqError) as throttled:
        await register(mallory, "hana", "hanapass1")  # right, but this JID is blocked
    assert throttled.value.condition == "resource-constraint"
    assert throttled.value.text == "Too many failed logins; try again later"
    assert await server.realm.accounts.account_for_jid(mallory.boundjid.bare) is None
    # Per JID: another JID links the same account with its password.
    hana = await xmpp_user("hana")
    await register(hana, "hana", "hanapass1")
    assert await server.realm.accounts.account_for_jid(hana.boundjid.bare) == "hana"


async def test_a_trusted_domain_is_its_accounts_and_guests_have_none(gateway_server, xmpp_user):
    server = await gateway_server(trusted_domains=("localhost",))  # unknown_jids: guest
    erin = await xmpp_user("erin")
    await join(erin, "#trust", "erin")
    # Her account by the domain's rule, though it was never registered.
    assert server.realm.find_user("erin").account == erin.boundjid.user
    assert await server.realm.accounts.get(erin.boundjid.user) is None
    # A JID of another domain is no account, even with the same local part: a guest.
    guest = await xmpp_user("erin", domain=OTHER_DOMAIN)
    assert guest.boundjid.bare == f"{guest.boundjid.user}@{OTHER_DOMAIN}"
    result = await join(guest, "#trust", "guest")
    assert result.presence["muc"]["status_codes"] == {110}
    user = server.realm.find_user("guest")
    assert user.account is None
    assert (user.username, user.host) == (guest.boundjid.user, OTHER_DOMAIN)


async def test_guests_join_without_an_account(gateway_server, xmpp_user):
    server = await gateway_server()  # unknown_jids: guest
    fay = await xmpp_user("fay")
    await join(fay, "#guests", "fay")
    user = server.realm.find_user("fay")
    assert user.account is None
    assert user.username == fay.boundjid.user and user.host == "localhost"


async def test_a_link_outlives_a_restart_with_a_database(gateway_server, xmpp_user, tmp_path):
    from words.app import stop_gateway

    database = f"sqlite:///{tmp_path / 'words.db'}"
    first = await gateway_server(unknown_jids="refuse", config={"database": database})
    await first.realm.accounts.create("gina", PasswordHasher(ln=4).hash("ginapass"))
    gina = await xmpp_user("gina")
    await register(gina, "gina", "ginapass")
    await stop_gateway(first)  # one component connection per domain
    second = await gateway_server(unknown_jids="refuse", config={"database": database})
    await join(gina, "#kept", "gina")
    assert second.realm.find_user("gina").account == "gina"
