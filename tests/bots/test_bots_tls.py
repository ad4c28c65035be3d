"""TLS to a words server: verification against a CA file, refusal, fingerprint pinning,
and SASL EXTERNAL with a client certificate."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import subprocess

import pytest
from support import ensure_system_package

from bots.connector import Backoff, Connector, FatalError, TLSOptions
from bots.testing import RecordingClient
from words.config import Listen, TLSFiles


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [ensure_system_package("openssl", "openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    return str(cert), str(key), hashlib.sha256(der).hexdigest()


@pytest.fixture
async def tls_server(start_server, certificate):
    cert, key, _ = certificate
    return await start_server(listen=(Listen("127.0.0.1", 0, TLSFiles(cert, key)),),
                              auth=("memory:tlsbot:secret",))


def client() -> RecordingClient:
    return RecordingClient("tlsbot", password="secret", burst=20, rate=100)


async def test_verified_against_a_ca_file(tls_server, certificate, run_bot):
    bot = await run_bot(client(), tls_server.port, tls=TLSOptions(cafile=certificate[0]))
    assert bot.transport.get_extra_info("ssl_object") is not None


async def test_an_untrusted_certificate_is_refused_for_good(tls_server):
    connector = Connector(client(), "127.0.0.1", tls_server.port, tls=TLSOptions(),
                          backoff=Backoff(initial=0.01))
    with pytest.raises(FatalError, match="certificate"):
        await asyncio.wait_for(connector.run(), 10)


async def test_a_pinned_fingerprint(tls_server, certificate, run_bot):
    fingerprint = certificate[2]
    colons = ":".join(fingerprint[i:i + 2] for i in range(0, 64, 2)).upper()
    bot = await run_bot(client(), tls_server.port, tls=TLSOptions(fingerprint=colons))
    assert bot.is_signed_on


async def test_a_wrong_pin_sends_nothing_and_stops(tls_server):
    bot = client()
    connector = Connector(bot, "127.0.0.1", tls_server.port,
                          tls=TLSOptions(fingerprint="00" * 32), backoff=Backoff(initial=0.01))
    sent: list[bytes] = []
    bot._write = sent.append  # every line the client writes (PASS first) would land here
    with pytest.raises(FatalError, match="fingerprint"):
        await asyncio.wait_for(connector.run(), 10)
    assert sent == [] and bot.connections == 1


# -- SASL EXTERNAL: a client certificate registered to an account ---------------------


@pytest.fixture
async def external_server(start_server, tmp_path):
    trustme = pytest.importorskip("trustme")
    server_ca, client_ca = trustme.CA(), trustme.CA()
    leaf = server_ca.issue_cert("127.0.0.1", "localhost")
    cert, key, clients = tmp_path / "server.pem", tmp_path / "server.key", tmp_path / "clients.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    client_ca.cert_pem.write_to_path(str(clients))
    server = await start_server(
        listen=(Listen("127.0.0.1", 0, TLSFiles(str(cert), str(key), str(clients))),))
    bot_cert = client_ca.issue_cert("certbot@example.org")
    der = ssl.PEM_cert_to_DER_cert(bot_cert.cert_chain_pems[0].bytes().decode())
    await server.realm.accounts.create("certbot", "!no password")
    assert await server.realm.accounts.add_fingerprint("certbot", hashlib.sha256(der).hexdigest())
    ca_file, bot_file = tmp_path / "server-ca.pem", tmp_path / "bot.pem"
    server_ca.cert_pem.write_to_path(str(ca_file))
    bot_cert.private_key_and_cert_chain_pem.write_to_path(str(bot_file))
    stranger = tmp_path / "stranger.pem"
    client_ca.issue_cert("stranger@example.org").private_key_and_cert_chain_pem.write_to_path(
        str(stranger))
    return server, str(ca_file), str(bot_file), str(stranger)


async def test_sasl_external_with_a_client_certificate(external_server, run_bot):
    server, ca_file, bot_file, _ = external_server
    bot = RecordingClient("certbot", sasl_mechanism="EXTERNAL", burst=20, rate=100)
    await run_bot(bot, server.port, tls=TLSOptions(cafile=ca_file, certfile=bot_file))
    assert bot.account == "certbot"


async def test_sasl_external_with_an_unknown_certificate_is_final(external_server):
    server, ca_file, _, stranger = external_server
    bot = RecordingClient("certbot", sasl_mechanism="EXTERNAL", burst=20, rate=100)
    connector = Connector(bot, "127.0.0.1", server.port, backoff=Backoff(initial=0.01),
                          tls=TLSOptions(cafile=ca_file, certfile=stranger))
    with pytest.raises(FatalError, match="SASL"):
        await asyncio.wait_for(connector.run(), 10)
    assert bot.connections == 1
