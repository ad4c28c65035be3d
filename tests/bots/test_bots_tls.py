"""TLS to a words server: verification against a CA file, refusal, fingerprint pinning."""

from __future__ import annotations

import asyncio
import hashlib
import ssl
import subprocess

import pytest

from bots.connector import Backoff, Connector, FatalError, TLSOptions
from bots.testing import RecordingClient
from words.config import Listen, TLSFiles


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
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
