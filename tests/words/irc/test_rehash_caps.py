"""cap-notify on a configuration reload: clients hear CAP NEW for what the new config offers."""

from __future__ import annotations

from support import RawClient

from words.app import build_server
from words.config import load_config


async def test_rehash_announces_a_changed_sasl_offer(tmp_path):
    path = tmp_path / "words.yaml"
    path.write_text("listen: ['127.0.0.1:0']\nhashing: {ln: 4}\n")
    server = build_server(load_config(path))
    await server.start()
    try:
        client = await RawClient.connect(server.bound[0][1])
        await client.send("CAP LS 302")
        offer = (await client.expect("CAP")).params[-1].split()
        assert "sasl=PLAIN" in offer
        await client.send("CAP END")
        await client.register("alice")
        path.write_text("listen: ['127.0.0.1:0']\nhashing: {ln: 4}\nscram: true\n")
        assert server.rehash() is None
        new = await client.expect("CAP", "alice", "NEW")
        assert new.params[-1] == "sasl=PLAIN,SCRAM-SHA-256"
        await client.close()
    finally:
        await server.stop()
