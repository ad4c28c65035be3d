from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field

import pytest

from words.cred.hashing import DEFAULT_HASHER, PasswordHasher

FAST = PasswordHasher(ln=4)

# From passlib's own tests (test_handlers_scrypt.py): proves the format matches.
PASSLIB_NACL = (
    "$scrypt$ln=1,r=4,p=2$yhnD+J+Tci4lZCwFgHCuVQ$fAsEWmxSHuC0cHKMwKVFPzrQukgvK09Sj+NueTSxKds"
)


def test_round_trip_and_phc_format() -> None:
    phc = FAST.hash("pässwörd")
    assert re.fullmatch(r"\$scrypt\$ln=4,r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}", phc)
    assert FAST.verify("pässwörd", phc)
    assert not FAST.verify("passwörd", phc)
    assert FAST.hash("pässwörd") != phc  # fresh salt each time
    assert FAST.is_hash(phc)


def test_verifies_passlib_hash() -> None:
    assert FAST.verify("nacl", PASSLIB_NACL)
    assert not FAST.verify("NaCl", PASSLIB_NACL)


def test_default_parameters() -> None:
    phc = DEFAULT_HASHER.hash("secret")
    assert phc.startswith("$scrypt$ln=14,r=8,p=1$")
    assert DEFAULT_HASHER.verify("secret", phc)
    assert not DEFAULT_HASHER.needs_rehash(phc)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "hunter2",
        "$scrypt$ln=4,r=8$c2FsdHNhbHQ$" + "A" * 43,  # no p
        "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$" + "A" * 43,
        "$scrypt$ln=4,r=8,p=1$c2Fs@HQ$" + "A" * 43,  # not base64
        "$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ$AAAAA",  # impossible base64 length
        "$scrypt$ln=4,r=8,p=1$c2FsdHNhbHQ$AAAA",  # digest too short
        "$scrypt$ln=0,r=8,p=1$c2FsdHNhbHQ$" + "A" * 43,
        "$scrypt$ln=30,r=8,p=1$c2FsdHNhbHQ$" + "A" * 43,  # 128 GiB: refused
        PASSLIB_NACL + "\n",
    ],
)
def test_malformed_hash_raises(bad: str) -> None:
    with pytest.raises(ValueError) as info:
        FAST.verify("hunter2", bad)
    assert "hunter2" not in str(info.value)
    assert not FAST.is_hash(bad)
    with pytest.raises(ValueError):
        FAST.needs_rehash(bad)


def test_needs_rehash() -> None:
    phc = FAST.hash("pw")
    assert not FAST.needs_rehash(phc)
    assert PasswordHasher(ln=5).needs_rehash(phc)
    assert PasswordHasher(ln=4, hash_bytes=64).needs_rehash(phc)
    assert FAST.needs_rehash(PASSLIB_NACL)


def test_from_config() -> None:
    assert PasswordHasher.from_config({"ln": 4, "max_concurrent": 2}) == PasswordHasher(
        ln=4, max_concurrent=2
    )
    with pytest.raises(ValueError, match="'rounds'"):
        PasswordHasher.from_config({"rounds": 10})
    with pytest.raises(ValueError, match="ln"):
        PasswordHasher.from_config({"ln": "14"})
    with pytest.raises(ValueError, match="out of range"):
        PasswordHasher.from_config({"ln": 24, "r": 8})


async def test_hash_async_round_trip() -> None:
    phc = await FAST.hash_async("pw")
    assert await FAST.verify_async("pw", phc)
    assert not await FAST.verify_async("px", phc)


async def test_verify_async_leaves_the_loop_running() -> None:
    ticked = threading.Event()

    class Gated(PasswordHasher):
        def verify(self, password: str, phc: str) -> bool:
            # Only the event loop's ticker can set this: if verify ran on the
            # loop, the loop would be stuck here and the wait would time out.
            assert ticked.wait(timeout=1)
            return super().verify(password, phc)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0)
            ticked.set()

    hasher = Gated(ln=4)
    phc = hasher.hash("pw")
    task = asyncio.create_task(ticker())
    try:
        assert await hasher.verify_async("pw", phc)
    finally:
        task.cancel()


@dataclass(frozen=True)
class Counting(PasswordHasher):
    """Records how many sync verifies run at once (our own hook, not a mock).

    ``barrier`` and ``gate`` hold a verify once it is counted, so overlaps
    that the semaphore allows really happen.
    """

    lock: threading.Lock = field(default_factory=threading.Lock, compare=False)
    stats: dict[str, int] = field(default_factory=lambda: {"now": 0, "max": 0}, compare=False)
    entered: threading.Event = field(default_factory=threading.Event, compare=False)
    barrier: threading.Barrier | None = field(default=None, compare=False)
    gate: threading.Event | None = field(default=None, compare=False)

    def verify(self, password: str, phc: str) -> bool:
        with self.lock:
            self.stats["now"] += 1
            self.stats["max"] = max(self.stats["max"], self.stats["now"])
        self.entered.set()
        try:
            if self.barrier is not None:
                self.barrier.wait(timeout=1)  # both slots must be busy at once
            if self.gate is not None:
                assert self.gate.wait(timeout=1)
            return super().verify(password, phc)
        finally:
            with self.lock:
                self.stats["now"] -= 1


async def test_at_most_max_concurrent_verifies() -> None:
    hasher = Counting(ln=4, max_concurrent=2, barrier=threading.Barrier(2))
    phc = hasher.hash("pw")
    results = await asyncio.gather(*(hasher.verify_async("pw", phc) for _ in range(10)))
    assert results == [True] * 10
    assert hasher.stats["max"] == 2


async def test_cancelled_verify_keeps_its_slot_until_the_thread_ends() -> None:
    gate = threading.Event()
    hasher = Counting(ln=4, max_concurrent=1, gate=gate)
    phc = hasher.hash("pw")
    first = asyncio.create_task(hasher.verify_async("pw", phc))
    assert await asyncio.to_thread(hasher.entered.wait, 1)
    first.cancel()  # e.g. the client hung up mid-login
    second = asyncio.create_task(hasher.verify_async("pw", phc))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    # A thread round trip: had the slot been freed, the second verify's
    # thread (queued before this one) would be running by now.
    await asyncio.to_thread(lambda: None)
    assert first.cancelled()
    gate.set()
    assert await second
    assert hasher.stats["max"] == 1


def test_semaphore_works_across_event_loops() -> None:
    phc = FAST.hash("pw")
    assert asyncio.run(FAST.verify_async("pw", phc))
    assert asyncio.run(FAST.verify_async("pw", phc))


async def test_dummy_verify_does_one_verify() -> None:
    hasher = Counting(ln=4)
    await hasher.dummy_verify("whatever")
    await hasher.dummy_verify("whatever")
    assert hasher.stats == {"now": 0, "max": 1}
