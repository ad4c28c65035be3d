"""TLS listeners through real sockets: the handshake, IRC over TLS, SASL EXTERNAL, check-config.

Certificates are made at run time with trustme: one CA for the server's
certificate, another (the listener's `client_ca`) for client certificates.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from support import RawClient, join, run_words

from words.config import Listen, TLSFiles
from words.irc.tls import server_context


@dataclass
class PKI:
    server_ca: trustme.CA
    client_ca: trustme.CA
    files: TLSFiles  # the listener's cert, key and client_ca
    no_client_ca: TLSFiles  # the same without client certificates
    alice: trustme.LeafCert
    bob: trustme.LeafCert
    dir: Path

    def client_context(self, cert: trustme.LeafCert | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.server_ca.configure_trust(context)
        if cert is not None:
            cert.configure_cert(context)
        return context


def fingerprint(cert: trustme.LeafCert) -> str:
    der = ssl.PEM_cert_to_DER_cert(cert.cert_chain_pems[0].bytes().decode())
    return hashlib.sha256(der).hexdigest()


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> PKI:
    directory = tmp_path_factory.mktemp("pki")
    server_ca, client_ca = trustme.CA(), trustme.CA()
    server_cert = server_ca.issue_cert("127.0.0.1", "localhost")
    cert, key, ca = directory / "server.pem", directory / "server.key", directory / "clients-ca.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in server_cert.cert_chain_pems))
    server_cert.private_key_pem.write_to_path(str(key))
    client_ca.cert_pem.write_to_path(str(ca))
    return PKI(
        server_ca, client_ca,
        TLSFiles(str(cert), str(key), str(ca)), TLSFiles(str(cert), str(key)),
        client_ca.issue_cert("alice@example.org"), client_ca.issue_cert("bob@example.org"),
        directory,
    )


@pytest.fixture
async def tls_server(start_server, pki):
    """A server with a plaintext listener (server.port) and a TLS one (server.tls_port)."""
    server = await start_server(listen=(Listen("127.0.0.1", 0), Listen("127.0.0.1", 0, pki.files)))
    server.tls_port = server.bound[1][1]
    await server.realm.accounts.create("alice", "!no password")
    await server.realm.accounts.create("bob", "!no password")
    assert await server.realm.accounts.add_fingerprint("alice", fingerprint(pki.alice))
    return server


@pytest.fixture
async def open_tls():
    clients: list[RawClient] = []

    async def open_(port: int, context: ssl.SSLContext) -> RawClient:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=context, server_hostname="127.0.0.1"
        )
        client = RawClient(reader, writer)
        clients.append(client)
        return client

    yield open_
    for client in clients:
        await client.close()


async def negotiate_sasl(client: RawClient, nick: str = "ally") -> list[str]:
    """CAP LS 302, REQ sasl, NICK, USER; the sasl token of the LS line is returned."""
    client.nick = nick
    await client.send("CAP LS 302")
    ls = (await client.expect("CAP", "*", "LS")).params[-1].split()
    await client.send("CAP REQ :sasl")
    await client.expect("CAP", "*", "ACK", "sasl")
    await client.send(f"NICK {nick}")
    await client.send(f"USER {nick} 0 * :Real {nick}")
    return [token for token in ls if token.startswith("sasl")]


async def finish_registration(client: RawClient) -> None:
    await client.send("CAP END")
    await client.expect("001", client.nick)
    await client.expect("376", client.nick)


# -- the handshake ----------------------------------------------------------------------


async def test_tls_listener_speaks_modern_tls(tls_server, pki, open_tls):
    client = await open_tls(tls_server.tls_port, pki.client_context())
    assert client.writer.get_extra_info("ssl_object").version() in ("TLSv1.2", "TLSv1.3")
    old = pki.client_context()
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    client12 = await open_tls(tls_server.tls_port, old)
    assert client12.writer.get_extra_info("ssl_object").version() == "TLSv1.2"


async def test_tls_listener_refuses_tls_1_1(tls_server, pki):
    context = pki.client_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1/1_1 themselves
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # the client would do TLS 1.1 if the server did
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _reader, writer = await asyncio.open_connection(
            "127.0.0.1", tls_server.tls_port, ssl=context, server_hostname="127.0.0.1"
        )
        writer.close()
    assert server_context(pki.files).minimum_version == ssl.TLSVersion.TLSv1_2


async def test_a_certificate_from_another_ca_is_refused_at_the_handshake(tls_server, pki):
    stranger = trustme.CA().issue_cert("mallory@example.org")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", tls_server.tls_port, ssl=pki.client_context(stranger),
            server_hostname="127.0.0.1",
        )
        # TLS 1.3: the server judges the client certificate after the handshake.
        await writer.drain()
        writer.write(b"PING x\r\n")
        assert await asyncio.wait_for(reader.readline(), 5) == b""
        raise ConnectionError("closed by the server")


# -- IRC over TLS -----------------------------------------------------------------------


async def test_irc_works_through_tls_next_to_plaintext(tls_server, pki, open_tls, connect):
    secure = await open_tls(tls_server.tls_port, pki.client_context())
    welcome = await secure.register("secure")
    assert welcome.params[0] == "secure"
    plain = await connect("plain", port=tls_server.port)
    await join(secure, "#both")
    await join(plain, "#both")
    await secure.send("PRIVMSG plain :over TLS")
    msg = await plain.expect("PRIVMSG", "plain")
    assert msg.source.startswith("secure!") and msg.params[1] == "over TLS"
    await plain.send("PRIVMSG #both :in the clear")
    msg = await secure.expect("PRIVMSG", "#both")
    assert msg.source.startswith("plain!") and msg.params[1] == "in the clear"


async def test_cap_ls_offers_external_only_with_client_certificates(start_server, pki):
    for files, expected in ((pki.files, "sasl=PLAIN,EXTERNAL"), (pki.no_client_ca, "sasl=PLAIN")):
        server = await start_server(
            listen=(Listen("127.0.0.1", 0), Listen("127.0.0.1", 0, files)), scram=False
        )
        client = await RawClient.connect(server.port)
        try:
            await client.send("CAP LS 302")
            offered = (await client.expect("CAP", "*", "LS")).params[-1].split()
            assert [token for token in offered if token.startswith("sasl")] == [expected]
        finally:
            await client.close()


# -- SASL EXTERNAL ----------------------------------------------------------------------


async def test_external_logs_in_with_a_registered_certificate(tls_server, pki, open_tls):
    client = await open_tls(tls_server.tls_port, pki.client_context(pki.alice))
    assert await negotiate_sasl(client) == ["sasl=PLAIN,EXTERNAL"]
    await client.send("AUTHENTICATE EXTERNAL")
    assert (await client.expect("AUTHENTICATE")).params == ["+"]
    await client.send("AUTHENTICATE +")
    assert (await client.expect("900")).params == [
        "ally", "ally!~ally@127.0.0.1", "alice", "You are now logged in as alice",
    ]
    assert (await client.expect("903")).params == ["ally", "SASL authentication successful"]
    await finish_registration(client)
    await client.send("WHOIS ally")
    assert (await client.expect("330")).params == ["ally", "ally", "alice", "is logged in as"]


async def test_external_with_the_accounts_own_name_as_authzid(tls_server, pki, open_tls):
    client = await open_tls(tls_server.tls_port, pki.client_context(pki.alice))
    await negotiate_sasl(client)
    await client.send("AUTHENTICATE EXTERNAL")
    await client.expect("AUTHENTICATE", "+")
    await client.send("AUTHENTICATE " + base64.b64encode(b"ALICE").decode())
    assert (await client.expect("900")).params[2] == "alice"
    await client.expect("903")


async def test_external_with_another_accounts_authzid_fails(tls_server, pki, open_tls):
    client = await open_tls(tls_server.tls_port, pki.client_context(pki.alice))
    await negotiate_sasl(client)
    await client.send("AUTHENTICATE EXTERNAL")
    await client.expect("AUTHENTICATE", "+")
    await client.send("AUTHENTICATE " + base64.b64encode(b"bob").decode())
    assert (await client.expect("904")).params == ["ally", "SASL authentication failed"]
    await finish_registration(client)
    assert not any(m.command in ("900", "903") for m in client.received)


async def test_external_without_a_client_certificate_fails(tls_server, pki, open_tls, connect):
    client = await open_tls(tls_server.tls_port, pki.client_context())
    await negotiate_sasl(client)
    await client.send("AUTHENTICATE EXTERNAL")
    assert (await client.expect("904")).params == [
        "ally", "SASL authentication failed: no client certificate",
    ]
    # Nor over the plaintext listener of the same server.
    plain = await connect(port=tls_server.port)
    await negotiate_sasl(plain, "plainly")
    await plain.send("AUTHENTICATE EXTERNAL")
    assert (await plain.expect("904")).params[1] == "SASL authentication failed: no client certificate"


async def test_external_with_an_unregistered_certificate_fails(tls_server, pki, open_tls):
    client = await open_tls(tls_server.tls_port, pki.client_context(pki.bob))
    await negotiate_sasl(client)
    await client.send("AUTHENTICATE EXTERNAL")
    await client.expect("AUTHENTICATE", "+")
    await client.send("AUTHENTICATE +")
    assert (await client.expect("904")).params == ["ally", "SASL authentication failed"]
    # Once bob registers the certificate, it works.
    assert await tls_server.realm.accounts.add_fingerprint("bob", fingerprint(pki.bob))
    await client.send("AUTHENTICATE EXTERNAL")
    await client.expect("AUTHENTICATE", "+")
    await client.send("AUTHENTICATE +")
    assert (await client.expect("900")).params[2] == "bob"


# -- configuration ----------------------------------------------------------------------


def write_config(directory: Path, cert: str, key: str) -> Path:
    path = directory / "words.yaml"
    path.write_text(
        "listen:\n"
        "  - address: 127.0.0.1:6697\n"
        f"    tls: {{cert: {cert}, key: {key}}}\n"
    )
    return path


def test_check_config_accepts_a_tls_listener(pki, tmp_path):
    config = write_config(tmp_path, pki.files.cert, pki.files.key)
    result = run_words("check-config", str(config))
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_check_config_names_a_missing_certificate(pki, tmp_path):
    config = write_config(tmp_path, str(tmp_path / "missing.pem"), pki.files.key)
    result = run_words("check-config", str(config))
    assert result.returncode == 2
    assert "listen[0].tls.cert" in result.stderr and "no such file" in result.stderr


def test_check_config_names_an_unreadable_certificate(pki, tmp_path):
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    config = write_config(tmp_path, str(garbage), pki.files.key)
    result = run_words("check-config", str(config))
    assert result.returncode == 2
    assert "listen[0].tls" in result.stderr and "cannot load" in result.stderr


async def test_sts_tells_plaintext_clients_the_port_and_tls_clients_the_duration(pki, start_server):
    from words.config import Sts

    server = await start_server(
        listen=(Listen("127.0.0.1", 0), Listen("127.0.0.1", 0, pki.no_client_ca)),
        sts=Sts(port=6697, duration=300),
    )
    plain_port, tls_port = server.bound[0][1], server.bound[1][1]
    plain = await RawClient.connect(plain_port)
    await plain.send("CAP LS 302")
    assert "sts=port=6697" in (await plain.expect("CAP")).params[-1].split()
    await plain.send("CAP REQ sts")  # advertised, never requested
    assert (await plain.expect("CAP")).params[1] == "NAK"
    reader, writer = await asyncio.open_connection("127.0.0.1", tls_port, ssl=pki.client_context())
    secure = RawClient(reader, writer)
    await secure.send("CAP LS 302")
    assert "sts=duration=300" in (await secure.expect("CAP")).params[-1].split()
    for client in (plain, secure):
        await client.close()


async def test_sts_is_offered_only_when_configured(pki, start_server):
    # A TLS listener alone does not make sts: it needs `sts:` (which needs a TLS listener).
    server = await start_server(
        listen=(Listen("127.0.0.1", 0), Listen("127.0.0.1", 0, pki.no_client_ca)))
    plain = await RawClient.connect(server.bound[0][1])
    reader, writer = await asyncio.open_connection("127.0.0.1", server.bound[1][1],
                                                   ssl=pki.client_context())
    secure = RawClient(reader, writer)
    for client in (plain, secure):
        await client.send("CAP LS 302")
        offered = (await client.expect("CAP")).params[-1].split()
        assert "server-time" in offered and not [c for c in offered if c.startswith("sts")]
        await client.close()
