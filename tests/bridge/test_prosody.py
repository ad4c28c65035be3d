"""The test Prosody itself: two slixmpp clients meet in a MUC room and talk."""

from __future__ import annotations

import asyncio

from xmpp_support import connect_client, disconnect_client


async def test_two_clients_talk_in_a_muc_room(prosody):
    alice = await connect_client(prosody, "alice", "alicepw")
    bob = await connect_client(prosody, "bob", "bobpw")
    room = f"lobby@{prosody.muc_domain}"
    try:
        await alice.plugin["xep_0045"].join_muc_wait(room, "alice", maxstanzas=0, timeout=10)
        await bob.plugin["xep_0045"].join_muc_wait(room, "bob", maxstanzas=0, timeout=10)
        heard = asyncio.get_running_loop().create_future()
        bob.add_event_handler(
            "groupchat_message",
            lambda msg: heard.done() or msg["mucnick"] != "alice" or heard.set_result(msg["body"]))
        alice.send_message(mto=room, mbody="hello over xmpp", mtype="groupchat")
        assert await asyncio.wait_for(heard, 10) == "hello over xmpp"
    finally:
        await disconnect_client(alice)
        await disconnect_client(bob)
