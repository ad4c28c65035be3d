"""The relay over TLS on both sides: a words TLS listener and a Prosody with a certificate.

Certificates are made at run time with trustme, for 127.0.0.1 and localhost (the
JID's domain, which the XMPP side checks). The relay trusts their CA through its
config (`tls.cafile` for IRC, `cafile` for XMPP); a certificate of another CA is
refused with the reason, and the relay stops instead of retrying.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from relay_support import fresh_room, relay_config
from support import join
from xmpp_support import ProsodyServer

from bridge.relay.config import parse_config
from bridge.relay.service import Relay
from bridge.relay.text import ZWSP
from words.config import Listen, TLSFiles

pytestmark = pytest.mark.timeout(90)


@dataclass
class PKI:
    cert: str  # the servers' certificate chain
    key: str
    ca: str  # the CA that issued it
    other_ca: str  # a CA that did not


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PKI:
    directory: Path = tmp_path_factory.mktemp("relay-pki")
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    files = PKI(*(str(directory / name) for name in ("server.pem", "server.key", "ca.pem",
                                                     "other-ca.pem")))
    Path(files.cert).write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(files.key)
    ca.cert_pem.write_to_path(files.ca)
    trustme.CA().cert_pem.write_to_path(files.other_ca)
    return files


@pytest.fixture(scope="module")
def tls_prosody(pki):
    """A Prosody offering STARTTLS on its client port and direct TLS on another."""
    prosody = ProsodyServer(certificate=(pki.cert, pki.key))
    prosody.start()
    yield prosody
    prosody.close()


@pytest.fixture
async def server(start_server, pki):
    """The words server: plaintext on `port` (for the test's users), TLS on `tls_port`."""
    server = await start_server(listen=(Listen("127.0.0.1", 0),
                                        Listen("127.0.0.1", 0, TLSFiles(pki.cert, pki.key))))
    server.tls_port = server.bound[1][1]
    return server


def xmpp_tls(prosody, mode: str, cafile: str) -> dict:
    """The account settings for TLS `mode` ("starttls" or "direct") trusting `cafile`."""
    port = prosody.direct_tls_port if mode == "direct" else prosody.c2s_port
    return {"tls": mode, "port": port, "cafile": cafile}


async def stopped_with_error(relay: Relay, caplog, start: str) -> str:
    """Run `relay` until it gives up (status 1); the one error logged starting with `start`."""
    assert await asyncio.wait_for(relay.run(), 20) == 1
    errors = [m for m in caplog.messages if m.startswith(start)]
    assert len(errors) == 1, caplog.messages
    return errors[0]


async def test_irc_over_tls_trusting_the_ca_of_the_config(server, pki, prosody, start_relay,
                                                          connect, xmpp_user):
    room = fresh_room(prosody, "t")
    relay = await start_relay(relay_config(server.tls_port, prosody, [
        {"channel": "#t", "room": room},
    ], irc={"tls": {"cafile": pki.ca}}))
    ssl_object = relay.irc["local"].transport.get_extra_info("ssl_object")
    assert ssl_object is not None and ssl_object.version() in ("TLSv1.2", "TLSv1.3")
    alice = await connect("alice")
    await join(alice, "#t")
    carol = await xmpp_user("carol", room)
    await alice.send("PRIVMSG #t :over tls")
    assert await carol.next_message() == ("irc", "<alice> over tls")
    carol.say("back over tls")
    msg = await alice.expect("PRIVMSG", "#t")
    assert (msg.nick, msg.params[1]) == ("relay", f"<c{ZWSP}arol> back over tls")


@pytest.mark.parametrize("cafile", ["other", "system"])
async def test_an_untrusted_irc_certificate_stops_the_relay(server, pki, prosody, caplog, cafile):
    tls = {"cafile": pki.other_ca} if cafile == "other" else True
    relay = Relay(parse_config(relay_config(server.tls_port, prosody, [
        {"channel": "#t", "room": fresh_room(prosody, "t")},
    ], irc={"tls": tls}), "test.yaml"))
    error = await stopped_with_error(relay, caplog, "IRC network local: ")
    assert error.startswith(f"IRC network local: TLS certificate of 127.0.0.1:{server.tls_port} "
                            f"refused: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
                            f"failed: unable to get local issuer certificate")
    assert relay.irc["local"].connections == 0  # never got as far as a line
    assert relay.xmpp["main"].stopping  # the other side is not left relaying half


@pytest.mark.parametrize("mode", ["starttls", "direct"])
async def test_xmpp_over_tls_trusting_the_ca_of_the_config(server, pki, tls_prosody, start_relay,
                                                           connect, xmpp_user, mode):
    room = fresh_room(tls_prosody, "t")
    relay = await start_relay(relay_config(server.port, tls_prosody, [
        {"channel": "#t", "room": room},
    ], **xmpp_tls(tls_prosody, mode, pki.ca)))
    ssl_object = relay.xmpp["main"].client.transport.get_extra_info("ssl_object")
    assert ssl_object is not None and ssl_object.version() in ("TLSv1.2", "TLSv1.3")
    alice = await connect("alice")
    await join(alice, "#t")
    carol = await xmpp_user("carol", room, tls_prosody)  # a loopback user, in cleartext
    await alice.send(f"PRIVMSG #t :over {mode}")
    assert await carol.next_message() == ("irc", f"<alice> over {mode}")
    carol.say(f"back over {mode}")
    msg = await alice.expect("PRIVMSG", "#t")
    assert (msg.nick, msg.params[1]) == ("relay", f"<c{ZWSP}arol> back over {mode}")


@pytest.mark.parametrize("mode", ["starttls", "direct"])
async def test_an_untrusted_xmpp_certificate_stops_the_relay(server, pki, tls_prosody, caplog,
                                                             mode):
    account = xmpp_tls(tls_prosody, mode, pki.other_ca)
    relay = Relay(parse_config(relay_config(server.port, tls_prosody, [
        {"channel": "#t", "room": fresh_room(tls_prosody, "t")},
    ], **account), "test.yaml"))
    error = await stopped_with_error(relay, caplog, "XMPP account main: ")
    assert error == (f"XMPP account main: TLS certificate of localhost at 127.0.0.1:"
                     f"{account['port']} refused: unable to get local issuer certificate")
    session = relay.xmpp["main"]
    assert session.sessions == 0 and session.client.transport is None
    assert relay.irc["local"].quitting  # IRC was stopped too
