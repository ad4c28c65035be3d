"""Server-side SASL: PLAIN parsing, EXTERNAL by fingerprint, SCRAM-SHA-256 (RFC 7677 vector)."""

from __future__ import annotations

import base64

import pytest

from words.cred import UnauthorizedLogin, UnknownUser, UsernamePassword
from words.cred.sasl import CertificateChecker, CertificateFingerprint, parse_plain
from words.cred.scram import ScramServer, ScramVerifier, escape_saslname, unescape_saslname
from words.realm.accounts import MemoryAccountStore

# RFC 7677, section 3.
CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
SERVER_FIRST = (b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
CLIENT_FINAL = (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def rfc_server() -> ScramServer:
    verifier = ScramVerifier.from_password("pencil", salt=SALT, iterations=4096)

    async def lookup(name):
        return ("user", verifier) if name == "user" else None

    return ScramServer(lookup, b"server secret", server_nonce=SERVER_NONCE)


async def test_scram_matches_the_rfc_7677_exchange():
    server = rfc_server()
    assert await server.step(CLIENT_FIRST) == SERVER_FIRST
    assert await server.step(CLIENT_FINAL) == SERVER_FINAL
    assert server.account == "user"


async def test_scram_refuses_a_wrong_proof():
    server = rfc_server()
    await server.step(CLIENT_FIRST)
    forged = CLIENT_FINAL[:-10] + b"AAAAAAAAA="
    with pytest.raises(UnauthorizedLogin):
        await server.step(forged)
    assert server.account is None


async def test_scram_unknown_user_gets_a_stable_decoy_challenge():
    first = b"n,,n=nobody,r=abc"
    one, two = rfc_server(), rfc_server()
    a, b = await one.step(first), await two.step(first)
    assert a.split(b",")[1:] == b.split(b",")[1:]  # same salt and iterations each time
    with pytest.raises(UnauthorizedLogin):
        await one.step(b"c=biws,r=abc" + SERVER_NONCE.encode() + b",p=" + base64.b64encode(bytes(32)))


@pytest.mark.parametrize("message", [b"p=tls-unique,,n=user,r=x", b"n,,r=x", b"\xff\xfe", b"n,a=other,n=user,r=x"])
async def test_scram_refuses_malformed_or_channel_bound_openings(message):
    with pytest.raises(UnauthorizedLogin):
        await rfc_server().step(message)


async def test_scram_refuses_a_mismatched_nonce():
    server = rfc_server()
    await server.step(CLIENT_FIRST)
    with pytest.raises(UnauthorizedLogin):
        await server.step(CLIENT_FINAL.replace(b"r=rOpr", b"r=XOpr"))


def test_verifier_round_trips_and_saslnames_escape():
    verifier = ScramVerifier.from_password("pw")
    assert ScramVerifier.parse(str(verifier)) == verifier
    assert "pw" not in str(verifier)
    with pytest.raises(ValueError):
        ScramVerifier.parse("SCRAM-SHA-1$1:AA==$AA==:AA==")
    assert escape_saslname("a=b,c") == "a=3Db=2Cc"
    assert unescape_saslname("a=3Db=2Cc") == "a=b,c"
    with pytest.raises(ValueError):
        unescape_saslname("a=4")


def test_plain():
    assert parse_plain(b"\0alice\0secret") == UsernamePassword("alice", "secret")
    assert parse_plain(b"alice\0alice\0secret") == UsernamePassword("alice", "secret")
    for bad in (b"bob\0alice\0secret", b"alice\0secret", b"\0\0secret", b"\0alice\0", b"\xff\0a\0b"):
        with pytest.raises(UnauthorizedLogin):
            parse_plain(bad)


async def test_certificate_checker():
    accounts = MemoryAccountStore(str.lower)
    await accounts.create("Alice", "$scrypt$x")
    await accounts.add_fingerprint("alice", "AA" * 32)
    checker = CertificateChecker(accounts)
    assert await checker.request_avatar_id(CertificateFingerprint("aa" * 32)) == "Alice"
    assert await checker.request_avatar_id(CertificateFingerprint("aa" * 32, "ALICE")) == "Alice"
    with pytest.raises(UnauthorizedLogin):
        await checker.request_avatar_id(CertificateFingerprint("aa" * 32, "bob"))
    with pytest.raises(UnknownUser):
        await checker.request_avatar_id(CertificateFingerprint("bb" * 32))
