"""Password hashing with scrypt, in passlib's PHC string format.

A hash looks like ``$scrypt$ln=14,r=8,p=1$<salt>$<hash>``: salt and hash are
base64 (standard alphabet, no ``=`` padding), exactly as passlib writes them,
so hashes move freely between words and passlib.

The default parameters, ``ln=14, r=8, p=1`` (N = 2**14), make one hash use
128 * r * N = 16 MiB of memory and take about 50 ms of CPU. The async
methods run that work in a thread, at most ``max_concurrent`` at once, so the
event loop never blocks and a burst of logins cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import re
import secrets
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

_T = TypeVar("_T")

_PHC = re.compile(
    r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,6}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"
)
# A stored hash chooses its own cost: cap it, so a tampered or mistyped
# entry cannot make one login allocate gigabytes or run for minutes.
_MAX_MEMORY = 1 << 30
_MAX_P = 16
_MIN_DIGEST = 16
_PARAMS = ("ln", "r", "p", "salt_bytes", "hash_bytes", "max_concurrent")
_FORMAT_HELP = "expected $scrypt$ln=<n>,r=<n>,p=<n>$<salt>$<hash>"


class _Parsed(NamedTuple):
    ln: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _check_cost(ln: int, r: int, p: int) -> None:
    if ln < 1 or r < 1 or not 1 <= p <= _MAX_P or 128 * r * 2**ln > _MAX_MEMORY:
        raise ValueError(
            f"scrypt parameters out of range (ln={ln}, r={r}, p={p}): "
            f"need ln >= 1, r >= 1, 1 <= p <= {_MAX_P}, 128*r*2**ln <= 1 GiB"
        )


def _parse(phc: str) -> _Parsed:
    # The message never repeats the string: it may be a mistyped password.
    match = _PHC.fullmatch(phc) if isinstance(phc, str) else None
    if match is None:
        raise ValueError(f"not a supported password hash ({_FORMAT_HELP})")
    ln, r, p = (int(g) for g in match.group(1, 2, 3))
    _check_cost(ln, r, p)
    try:
        salt, digest = _b64decode(match[4]), _b64decode(match[5])
    except binascii.Error:
        raise ValueError(f"bad base64 in password hash ({_FORMAT_HELP})") from None
    if len(digest) < _MIN_DIGEST:
        raise ValueError(f"password hash too short (under {_MIN_DIGEST} bytes)")
    return _Parsed(ln, r, p, salt, digest)


def _encode(password: str) -> bytes:
    # surrogatepass: never fail on odd input from the wire, and stay
    # deterministic so hash and verify agree.
    return password.encode("utf-8", "surrogatepass")


def _scrypt(password: str, salt: bytes, ln: int, r: int, p: int, dklen: int) -> bytes:
    n = 2**ln
    # OpenSSL needs 128*r*(N+2) bytes for V plus 128*r*p for B; hashlib's
    # default cap (32 MiB) is too small for stronger settings.
    maxmem = 128 * r * (n + p + 2) + (1 << 20)
    return hashlib.scrypt(
        _encode(password), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=maxmem
    )


@dataclass(frozen=True)
class PasswordHasher:
    """scrypt parameters, and hash/verify with them (sync and async)."""

    ln: int = 14  # N = 2**ln
    r: int = 8
    p: int = 1
    salt_bytes: int = 16
    hash_bytes: int = 32
    max_concurrent: int = 4
    # Runtime state, not parameters: one semaphore per event loop (asyncio
    # primitives bind to the loop that first uses them) and the dummy hash.
    _semaphores: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
        field(default_factory=weakref.WeakKeyDictionary, init=False, repr=False, compare=False)
    )
    _cache: dict[str, str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        for name in _PARAMS:
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        _check_cost(self.ln, self.r, self.p)
        if self.salt_bytes < 8 or self.hash_bytes < _MIN_DIGEST:
            raise ValueError(f"need salt_bytes >= 8 and hash_bytes >= {_MIN_DIGEST}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> PasswordHasher:
        """Build from a config mapping (e.g. a YAML section); rejects unknown keys."""
        for key in config:
            if key not in _PARAMS:
                raise ValueError(
                    f"unknown password hasher setting {key!r} (known: {', '.join(_PARAMS)})"
                )
        return cls(**config)

    def hash(self, password: str) -> str:
        salt = secrets.token_bytes(self.salt_bytes)
        digest = _scrypt(password, salt, self.ln, self.r, self.p, self.hash_bytes)
        return (
            f"$scrypt$ln={self.ln},r={self.r},p={self.p}"
            f"${_b64encode(salt)}${_b64encode(digest)}"
        )

    def verify(self, password: str, phc: str) -> bool:
        """Check a password against a hash; a malformed hash raises ValueError."""
        parsed = _parse(phc)
        derived = _scrypt(
            password, parsed.salt, parsed.ln, parsed.r, parsed.p, len(parsed.digest)
        )
        return hmac.compare_digest(derived, parsed.digest)

    def needs_rehash(self, phc: str) -> bool:
        """True if the hash was made with other parameters than ours."""
        parsed = _parse(phc)
        return (parsed.ln, parsed.r, parsed.p, len(parsed.salt), len(parsed.digest)) != (
            self.ln, self.r, self.p, self.salt_bytes, self.hash_bytes
        )

    @staticmethod
    def is_hash(s: str) -> bool:
        """True if ``s`` is a hash this module can verify."""
        try:
            _parse(s)
        except ValueError:
            return False
        return True

    async def hash_async(self, password: str) -> str:
        return await self._run(self.hash, password)

    async def verify_async(self, password: str, phc: str) -> bool:
        return await self._run(self.verify, password, phc)

    async def dummy_verify(self, password: str) -> None:
        """Spend the time of a real verify, for users that do not exist.

        Answering "unknown user" faster than "wrong password" would tell an
        attacker which names exist.
        """
        await self._run(self._dummy_verify, password)

    def _dummy_verify(self, password: str) -> None:
        dummy = self._cache.get("dummy")
        if dummy is None:
            dummy = self._cache.setdefault("dummy", self.hash(secrets.token_hex(16)))
        self.verify(password, dummy)

    async def _run(self, fn: Callable[..., _T], *args: Any) -> _T:
        loop = asyncio.get_running_loop()
        semaphore = self._semaphores.get(loop)
        if semaphore is None:
            semaphore = self._semaphores[loop] = asyncio.Semaphore(self.max_concurrent)
        await semaphore.acquire()
        task = asyncio.ensure_future(asyncio.to_thread(fn, *args))

        def release(task: asyncio.Future[_T]) -> None:
            semaphore.release()
            if not task.cancelled():
                task.exception()  # retrieved here: the caller may be gone

        # A thread cannot be stopped: if the caller is cancelled (client gone),
        # its slot stays taken until the thread really ends.
        task.add_done_callback(release)
        return await asyncio.shield(task)


DEFAULT_HASHER = PasswordHasher()
