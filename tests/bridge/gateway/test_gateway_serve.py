"""`words serve` starts the gateway when the config has an xmpp: section, and stops it cleanly."""

from __future__ import annotations

import asyncio

from gateway_support import join
from slixmpp.exceptions import IqError, IqTimeout
from support import RawClient, free_port
from support import join as irc_join


async def wait_for_component(client, timeout: float = 20.0) -> None:
    """Until the XMPP server routes to the component (it answers disco#info)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            await client.plugin["xep_0030"].get_info(jid="irc.localhost", timeout=2)
            return
        except (IqError, IqTimeout):
            if loop.time() > deadline:
                raise AssertionError("the gateway never connected") from None
            await asyncio.sleep(0.1)  # polling with a deadline, as wait_for_port does


async def test_words_serve_runs_the_gateway(words_process, prosody, xmpp_user, tmp_path):
    port = free_port()
    config = tmp_path / "words.yaml"
    config.write_text(
        "server: {name: irc.test}\n"
        "xmpp:\n"
        "  component: irc.localhost\n"
        f"  secret: {prosody.secret}\n"
        f"  port: {prosody.component_port}\n"
    )
    proc = words_process("--config", str(config), port=port)
    alice = await xmpp_user("alice")
    await wait_for_component(alice)
    bob = await RawClient.connect(port)
    try:
        await bob.register("bob")
        await irc_join(bob, "#served")
        await join(alice, "#served", "alice")
        assert (await bob.expect("JOIN")).source.startswith("alice!")
        proc.terminate()
        # Leaving: her own unavailable presence, with 332 (system shutdown) and 110.
        gone = await alice.inbox.expect(
            lambda s: s.name == "presence" and s["type"] == "unavailable"
            and str(s["from"]).endswith("/alice"), "the shutdown")
        assert gone["muc"]["status_codes"] == {332, 110}
        assert await asyncio.to_thread(proc.wait, 20) == 0
    finally:
        await bob.close()
