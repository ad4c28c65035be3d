"""SCRAM-SHA-256 (RFC 5802, RFC 7677): the math both sides share, and the server side.

Stored verifiers never hold the password: "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>"
(base64 fields, the format PostgreSQL uses). No channel binding: the gs2 header must be "n,,"
or "y,,". An unknown user goes through the same exchange with a verifier derived from a
server secret, so the server's answers give no oracle of which accounts exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from words.cred.errors import UnauthorizedLogin

MECHANISM = "SCRAM-SHA-256"
DEFAULT_ITERATIONS = 4096  # RFC 7677's minimum; each login costs one PBKDF2 of this many rounds


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    return hmac.new(key, msg, hashlib.sha256).digest()


def salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)


def client_and_server_keys(salted: bytes) -> tuple[bytes, bytes]:
    """(ClientKey, ServerKey) of a salted password."""
    return hmac_sha256(salted, b"Client Key"), hmac_sha256(salted, b"Server Key")


def escape_saslname(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


def unescape_saslname(name: str) -> str:
    if "=" in name.replace("=3D", "").replace("=2C", ""):
        raise ValueError("bad escape in SCRAM user name")
    return name.replace("=2C", ",").replace("=3D", "=")


def parse_attributes(message: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in message.split(",") if "=" in item)


@dataclass(frozen=True, slots=True)
class ScramVerifier:
    iterations: int
    salt: bytes
    stored_key: bytes
    server_key: bytes

    def __str__(self) -> str:
        b64 = lambda b: base64.b64encode(b).decode()
        return (f"{MECHANISM}${self.iterations}:{b64(self.salt)}"
                f"${b64(self.stored_key)}:{b64(self.server_key)}")

    @classmethod
    def parse(cls, text: str) -> ScramVerifier:
        try:
            mechanism, head, keys = text.split("$")
            iterations, salt = head.split(":")
            stored, server = keys.split(":")
            if mechanism != MECHANISM:
                raise ValueError(mechanism)
            return cls(int(iterations), base64.b64decode(salt), base64.b64decode(stored),
                       base64.b64decode(server))
        except ValueError:
            raise ValueError("malformed SCRAM verifier") from None

    @classmethod
    def from_password(cls, password: str, *, iterations: int = DEFAULT_ITERATIONS,
                      salt: bytes | None = None) -> ScramVerifier:
        salt = salt if salt is not None else secrets.token_bytes(16)
        client_key, server_key = client_and_server_keys(salted_password(password, salt, iterations))
        return cls(iterations, salt, hashlib.sha256(client_key).digest(), server_key)


VerifierLookup = Callable[[str], Awaitable["tuple[str, ScramVerifier] | None"]]


@dataclass
class ScramServer:
    """One server-side exchange. `step(message)` returns the next challenge.

    After the client's final message, `account` holds the authenticated
    account name; any failure raises UnauthorizedLogin.
    """

    lookup: VerifierLookup  # username -> (account name, verifier) or None
    secret: bytes  # for the decoy verifier of unknown users
    account: str | None = None
    username: str = ""  # the name the client asked for, once its first message is read
    _state: int = 0
    _nonce: str = ""
    _gs2: str = ""
    _client_first_bare: str = ""
    _server_first: str = ""
    _verifier: ScramVerifier | None = None
    _known: str | None = None
    server_nonce: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    async def step(self, message: bytes) -> bytes:
        self._state += 1
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError:
            raise UnauthorizedLogin("SCRAM message is not UTF-8") from None
        if self._state == 1:
            return await self._first(text)
        if self._state == 2:
            return self._final(text)
        raise UnauthorizedLogin("SCRAM exchange already finished")

    async def _first(self, text: str) -> bytes:
        parts = text.split(",", 2)
        if len(parts) != 3 or parts[0] not in ("n", "y") or parts[1] != "":
            raise UnauthorizedLogin("unsupported SCRAM gs2 header (channel binding is not offered)")
        self._gs2 = f"{parts[0]},,"
        self._client_first_bare = parts[2]
        attrs = parse_attributes(parts[2])
        try:
            username = unescape_saslname(attrs["n"])
            self._nonce = attrs["r"]
        except (KeyError, ValueError):
            raise UnauthorizedLogin("malformed SCRAM client-first-message") from None
        self.username = username
        found = await self.lookup(username)
        if found is None:
            # A decoy with stable parameters: same answers as for a real account.
            salt = hmac_sha256(self.secret, username.encode())[:16]
            self._verifier = ScramVerifier(DEFAULT_ITERATIONS, salt, secrets.token_bytes(32),
                                           secrets.token_bytes(32))
        else:
            self._known, self._verifier = found
        v = self._verifier
        self._server_first = (f"r={self._nonce}{self.server_nonce},"
                              f"s={base64.b64encode(v.salt).decode()},i={v.iterations}")
        return self._server_first.encode()

    def _final(self, text: str) -> bytes:
        without_proof, sep, proof_part = text.rpartition(",p=")
        attrs = parse_attributes(without_proof)
        expected_binding = base64.b64encode(self._gs2.encode()).decode()
        if not sep or attrs.get("c") != expected_binding or attrs.get("r") != self._nonce + self.server_nonce:
            raise UnauthorizedLogin("SCRAM client-final-message does not match the exchange")
        try:
            proof = base64.b64decode(proof_part, validate=True)
        except ValueError:
            raise UnauthorizedLogin("malformed SCRAM proof") from None
        v = self._verifier
        assert v is not None
        auth_message = f"{self._client_first_bare},{self._server_first},{without_proof}".encode()
        signature = hmac_sha256(v.stored_key, auth_message)
        if len(proof) != len(signature):
            raise UnauthorizedLogin("wrong SCRAM proof")
        client_key = bytes(a ^ b for a, b in zip(proof, signature))
        valid = hmac.compare_digest(hashlib.sha256(client_key).digest(), v.stored_key)
        if not valid or self._known is None:
            raise UnauthorizedLogin("unknown user or wrong password")
        self.account = self._known
        return b"v=" + base64.b64encode(hmac_sha256(v.server_key, auth_message))
