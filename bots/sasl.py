"""SASL client mechanisms for IRC's AUTHENTICATE: PLAIN, EXTERNAL, SCRAM-SHA-256.

A mechanism is a small state machine: `respond(challenge)` gets the server's
decoded challenge (b"" for "+") and returns the response bytes to send, or
raises `SASLError` to abort. The IRC framing (base64, 400-byte chunks) lives in
the client; nothing here knows about sockets or IRC.

Credentials are `words.cred` types (`UsernamePassword`), so a bot's password
is the same object the server's checkers take.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from words.cred.credentials import UsernamePassword

__all__ = [
    "MECHANISMS",
    "External",
    "Plain",
    "SASLError",
    "ScramSHA256",
    "encode_authenticate",
    "make_mechanism",
]

# IRCv3 SASL: AUTHENTICATE payloads are sent in chunks of 400 bytes.
CHUNK = 400


class SASLError(Exception):
    """The exchange cannot go on (bad server data, a forged server signature)."""


@dataclass
class Plain:
    credentials: UsernamePassword
    authzid: str = ""
    name: str = "PLAIN"

    def respond(self, challenge: bytes) -> bytes:
        c = self.credentials
        return f"{self.authzid}\0{c.username}\0{c.password}".encode()


@dataclass
class External:
    """The TLS client certificate is the credential; we only name an authzid."""

    authzid: str = ""
    name: str = "EXTERNAL"

    def respond(self, challenge: bytes) -> bytes:
        return self.authzid.encode()


def _saslname(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


def _hmac(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


@dataclass
class ScramSHA256:
    """RFC 5802/7677 without channel binding; the server's signature is checked."""

    credentials: UsernamePassword
    nonce: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    name: str = "SCRAM-SHA-256"
    # Guards against a server making us spend minutes in PBKDF2.
    max_iterations: int = 1_000_000
    step: int = 0
    _client_first_bare: str = ""
    _server_signature: bytes = b""

    def respond(self, challenge: bytes) -> bytes:
        self.step += 1
        if self.step == 1:
            self._client_first_bare = f"n={_saslname(self.credentials.username)},r={self.nonce}"
            return ("n,," + self._client_first_bare).encode()
        if self.step == 2:
            return self._client_final(challenge.decode("utf-8", "replace"))
        if self.step == 3:
            self._verify(challenge.decode("utf-8", "replace"))
            return b""
        raise SASLError("unexpected SCRAM message after the server's final one")

    def _client_final(self, server_first: str) -> bytes:
        attrs = dict(
            item.split("=", 1) for item in server_first.split(",") if "=" in item
        )
        try:
            nonce, salt, iterations = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
        except (KeyError, ValueError) as e:
            raise SASLError(f"bad server-first-message {server_first!r}") from e
        if not nonce.startswith(self.nonce) or nonce == self.nonce:
            raise SASLError("the server's nonce does not extend ours")
        if not 1 <= iterations <= self.max_iterations:
            raise SASLError(f"refusing {iterations} iterations")
        salted = hashlib.pbkdf2_hmac(
            "sha256", self.credentials.password.encode(), salt, iterations
        )
        client_key = _hmac(salted, b"Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={nonce}"  # biws = base64("n,,")
        auth_message = f"{self._client_first_bare},{server_first},{without_proof}".encode()
        signature = _hmac(stored_key, auth_message)
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        self._server_signature = _hmac(_hmac(salted, b"Server Key"), auth_message)
        return f"{without_proof},p={base64.b64encode(proof).decode()}".encode()

    def _verify(self, server_final: str) -> None:
        if server_final.startswith("e="):
            raise SASLError(f"server error: {server_final[2:]}")
        if not server_final.startswith("v="):
            raise SASLError(f"bad server-final-message {server_final!r}")
        try:
            got = base64.b64decode(server_final[2:])
        except ValueError as e:
            raise SASLError("bad server signature encoding") from e
        if not hmac.compare_digest(got, self._server_signature):
            raise SASLError("the server's signature is wrong: not the server we know")


MECHANISMS = ("SCRAM-SHA-256", "PLAIN", "EXTERNAL")


def make_mechanism(name: str, credentials: UsernamePassword | None = None):
    name = name.upper()
    if name == "EXTERNAL":
        return External()
    if credentials is None:
        raise ValueError(f"SASL {name} needs a username and password")
    if name == "PLAIN":
        return Plain(credentials)
    if name == "SCRAM-SHA-256":
        return ScramSHA256(credentials)
    raise ValueError(f"unknown SASL mechanism {name!r} (choose one of {', '.join(MECHANISMS)})")


def encode_authenticate(payload: bytes) -> list[str]:
    """The AUTHENTICATE parameters for one response: base64 in 400-byte chunks.

    An empty response is "+"; a response that is an exact multiple of 400
    bytes ends with a "+" so the server knows it is complete.
    """
    data = base64.b64encode(payload).decode()
    if not data:
        return ["+"]
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    if len(chunks[-1]) == CHUNK:
        chunks.append("+")
    return chunks
