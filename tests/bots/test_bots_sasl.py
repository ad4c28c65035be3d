"""SASL client mechanisms. The SCRAM math is checked against RFC 7677's test vector.

End to end, PLAIN and SCRAM-SHA-256 log in to the words server (success and
failure); EXTERNAL is in test_bots_tls.py; ngIRCd has no SASL.
"""

from __future__ import annotations

import asyncio
import base64

import pytest
from support import run_words

from bots.connector import Backoff, Connector, FatalError
from bots.sasl import (
    External,
    Plain,
    SASLError,
    ScramSHA256,
    encode_authenticate,
    make_mechanism,
)
from bots.testing import RecordingClient
from words.cred.credentials import UsernamePassword

# RFC 7677, section 3.
CLIENT_NONCE = "rOprNGfwEbeRWgbNEkqO"
SERVER_FIRST = (
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
CLIENT_FINAL = (
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
SERVER_FINAL = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def scram() -> ScramSHA256:
    return ScramSHA256(UsernamePassword("user", "pencil"), nonce=CLIENT_NONCE)


def test_scram_sha256_rfc7677_vector():
    mech = scram()
    assert mech.respond(b"") == b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    assert mech.respond(SERVER_FIRST.encode()).decode() == CLIENT_FINAL
    assert mech.respond(SERVER_FINAL.encode()) == b""


def test_scram_rejects_a_forged_server_signature():
    mech = scram()
    mech.respond(b"")
    mech.respond(SERVER_FIRST.encode())
    forged = "v=" + base64.b64encode(b"\0" * 32).decode()
    with pytest.raises(SASLError, match="signature"):
        mech.respond(forged.encode())


@pytest.mark.parametrize("server_first", [
    "r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  # nonce not ours
    "r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=999999999",  # too costly
    "r=rOprNGfwEbeRWgbNEkqOx,i=4096",  # no salt
])
def test_scram_rejects_bad_server_first(server_first):
    mech = scram()
    mech.respond(b"")
    with pytest.raises(SASLError):
        mech.respond(server_first.encode())


def test_scram_server_error():
    mech = scram()
    mech.respond(b"")
    mech.respond(SERVER_FIRST.encode())
    with pytest.raises(SASLError, match="invalid-proof"):
        mech.respond(b"e=invalid-proof")


def test_plain_and_external():
    assert Plain(UsernamePassword("alice", "s3cret")).respond(b"") == b"\0alice\0s3cret"
    assert External().respond(b"") == b""
    assert make_mechanism("plain", UsernamePassword("a", "b")).name == "PLAIN"
    with pytest.raises(ValueError):
        make_mechanism("PLAIN")
    with pytest.raises(ValueError):
        make_mechanism("CRAM-MD5", UsernamePassword("a", "b"))


def test_authenticate_chunks():
    assert encode_authenticate(b"") == ["+"]
    assert encode_authenticate(b"abc") == ["YWJj"]
    exact = encode_authenticate(b"x" * 300)  # 400 base64 chars exactly
    assert [len(c) for c in exact] == [400, 1] and exact[-1] == "+"
    long = encode_authenticate(b"x" * 400)
    assert [len(c) for c in long[:-1]] == [400] and len(long[-1]) < 400


# -- end to end, against the words server's SASL ---------------------------------------

def sasl_client(mechanism: str, user: str, password: str) -> RecordingClient:
    return RecordingClient(user, sasl_mechanism=mechanism, burst=20, rate=100,
                           sasl_credentials=UsernamePassword(user, password))


async def test_plain_logs_in(start_server, run_bot):
    server = await start_server(auth=("memory:saslbot:s3cret",))
    bot = await run_bot(sasl_client("PLAIN", "saslbot", "s3cret"), server.port)
    assert bot.account == "saslbot" and "sasl" in bot.caps


async def fails_for_good(port: int, client: RecordingClient) -> str:
    connector = Connector(client, "127.0.0.1", port, backoff=Backoff(initial=0.01))
    with pytest.raises(FatalError) as info:
        await asyncio.wait_for(connector.run(), 10)
    assert client.connections == 1  # no retry loop on a wrong password
    assert not client.is_signed_on
    return str(info.value)


async def test_plain_wrong_password_is_final(start_server):
    server = await start_server(auth=("memory:saslbot:s3cret",))
    reason = await fails_for_good(server.port, sasl_client("PLAIN", "saslbot", "wrong"))
    assert "SASL" in reason


async def test_a_mechanism_the_server_lacks_is_final(start_server):
    server = await start_server(auth=("memory:saslbot:s3cret",))  # PLAIN only
    reason = await fails_for_good(server.port, sasl_client("SCRAM-SHA-256", "saslbot", "s3cret"))
    assert "does not offer SASL SCRAM-SHA-256" in reason


async def test_sasl_optional_goes_on_without(start_server, run_bot):
    server = await start_server()  # anonymous only: no sasl offered
    client = sasl_client("PLAIN", "loose", "pw")
    client.sasl_required = False
    bot = await run_bot(client, server.port)
    assert bot.is_signed_on and bot.account is None


@pytest.fixture
def scram_account(tmp_path):
    database = f"sqlite:///{tmp_path / 'words.db'}"
    config = tmp_path / "words.yaml"
    config.write_text(f"realm: {{database: '{database}'}}\nscram: true\nhashing: {{ln: 4}}\n")
    made = run_words("account", "add", "scrambot", "--config", str(config),
                     "--password-file", "-", input="pencil\n")
    assert made.returncode == 0, made.stderr
    return database


async def test_scram_sha256_logs_in_and_checks_the_server(start_server, run_bot, scram_account):
    server = await start_server(database=scram_account, scram=True)
    bot = await run_bot(sasl_client("SCRAM-SHA-256", "scrambot", "pencil"), server.port)
    assert bot.account == "scrambot"


async def test_scram_wrong_password_is_final(start_server, scram_account):
    server = await start_server(database=scram_account, scram=True)
    reason = await fails_for_good(server.port, sasl_client("SCRAM-SHA-256", "scrambot", "eraser"))
    assert "SASL" in reason
