"""SASL client mechanisms. The SCRAM math is checked against RFC 7677's test vector.

End-to-end SASL (success and failure through a server) waits for the words
server's SASL (issue 5); ngIRCd has no SASL.
"""

from __future__ import annotations

import base64

import pytest

from bots.sasl import (
    External, Plain, SASLError, ScramSHA256, encode_authenticate, make_mechanism,
)
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
