"""Keeping a client connected, like Twisted's ReconnectingClientFactory.

After a lost connection or a failed attempt, wait a jittered, exponentially
growing delay (capped) and try again. The delay goes back to its start once a
connection has stayed up for `stable_after` seconds, so a flapping server is
not hammered but a one-off drop is retried quickly. A fatal error (wrong
password, a nick the server refuses, a failed required SASL, a QUIT we sent)
ends the loop: retrying would not help and would look like an attack.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import random
import ssl
from dataclasses import dataclass, field

from bots.client import IRCClient

__all__ = ["Backoff", "ConnectionFailed", "Connector", "FatalError", "TLSOptions"]

log = logging.getLogger("bots.connector")


class ConnectionFailed(Exception):
    """The connection could not be made and we were told not to retry."""


class FatalError(Exception):
    """The server refused us in a way retrying cannot fix."""


@dataclass
class Backoff:
    """Twisted's defaults, except a 5-minute cap (Twisted: 1 hour) for bots."""

    initial: float = 1.0
    factor: float = 2.7182818284590451  # e, as Twisted
    max_delay: float = 300.0
    jitter: float = 0.11962656472  # Twisted's: spread many clients over time
    delay: float = field(init=False)
    rng: random.Random = field(default_factory=random.Random, repr=False)

    def __post_init__(self) -> None:
        self.delay = self.initial

    def next(self) -> float:
        """The delay to wait now; the following one grows."""
        current = min(self.delay, self.max_delay)
        self.delay = min(self.delay * self.factor, self.max_delay)
        return max(0.0, self.rng.normalvariate(current, current * self.jitter))

    def reset(self) -> None:
        self.delay = self.initial


@dataclass
class TLSOptions:
    verify: bool = True
    cafile: str | None = None
    certfile: str | None = None  # a client certificate (for SASL EXTERNAL / CertFP)
    keyfile: str | None = None
    fingerprint: str | None = None  # sha256 of the server certificate, hex; pins it

    def context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=self.cafile)
        if not self.verify or self.fingerprint:
            # A pinned fingerprint replaces the CA check (self-signed servers).
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.certfile:
            ctx.load_cert_chain(self.certfile, self.keyfile)
        return ctx

    def check_pin(self, transport: asyncio.BaseTransport) -> None:
        if not self.fingerprint:
            return
        obj = transport.get_extra_info("ssl_object")
        der = obj.getpeercert(binary_form=True) if obj else None
        got = hashlib.sha256(der or b"").hexdigest()
        want = self.fingerprint.replace(":", "").lower()
        if not hmac.compare_digest(got, want):
            raise FatalError(f"server certificate fingerprint {got} is not the pinned {want}")


class Connector:
    """Connects one IRCClient and reconnects it until told to stop."""

    def __init__(
        self,
        client: IRCClient,
        host: str,
        port: int,
        *,
        tls: TLSOptions | None = None,
        backoff: Backoff | None = None,
        stable_after: float = 60.0,
        retry_initial: bool = True,
        max_retries: int | None = None,
    ) -> None:
        self.client = client
        self.host, self.port = host, port
        self.tls = tls
        self.backoff = backoff or Backoff()
        self.stable_after = stable_after
        self.retry_initial = retry_initial
        self.max_retries = max_retries
        self.retries = 0
        self._stop = asyncio.Event()
        self._close_handle: asyncio.TimerHandle | None = None

    def stop(self, message: str = "") -> None:
        """Quit (if connected) and end run()."""
        self._stop.set()
        self.client.quit(message)
        if self.client.transport is not None:
            # Let the QUIT be written first; the server closes, or we do soon after.
            self._close_handle = asyncio.get_running_loop().call_later(2.0, self._close_transport)
        else:
            self._close_transport()

    def _close_transport(self) -> None:
        if self.client.transport is not None:
            self.client.transport.close()

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        ctx = self.tls.context() if self.tls else None
        self.client.transport_check = self.tls.check_pin if self.tls else None
        await loop.create_connection(
            lambda: self.client, self.host, self.port, ssl=ctx,
            server_hostname=self.host if ctx else None,
        )

    async def _wait(self, delay: float) -> None:
        """Wait `delay` seconds, or less if stop() is called."""
        try:
            await asyncio.wait_for(self._stop.wait(), delay)
        except TimeoutError:
            pass

    async def run(self) -> None:
        """Connect and stay connected. Raises ConnectionFailed or FatalError when giving up."""
        try:
            await self._run()
        finally:
            if self._close_handle is not None:
                self._close_handle.cancel()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        ever_connected = False
        while not self._stop.is_set():
            try:
                await self._connect()
            except ssl.SSLCertVerificationError as e:
                # Not the server we are configured to trust: retrying will not change that.
                raise FatalError(f"TLS certificate of {self.host}:{self.port} refused: {e}") from e
            except OSError as e:
                if not ever_connected and not self.retry_initial:
                    raise ConnectionFailed(f"cannot connect to {self.host}:{self.port}: {e}") from e
                if self._give_up():
                    raise ConnectionFailed(f"gave up after {self.retries} retries: {e}") from e
                delay = self.backoff.next()
                log.warning("connection to %s:%s failed (%s); retrying in %.1fs",
                            self.host, self.port, e, delay)
                await self._wait(delay)
                continue
            ever_connected = True
            started = loop.time()
            await self.client.wait_closed()
            if self.client.fatal_error:
                raise FatalError(self.client.fatal_error)
            if self._stop.is_set() or self.client.quitting:
                return
            if loop.time() - started >= self.stable_after:
                self.backoff.reset()
                self.retries = 0
            if self._give_up():
                raise ConnectionFailed(f"gave up after {self.retries} retries")
            delay = self.backoff.next()
            log.warning("connection to %s:%s lost; reconnecting in %.1fs",
                        self.host, self.port, delay)
            await self._wait(delay)

    def _give_up(self) -> bool:
        if self.max_retries is not None and self.retries >= self.max_retries:
            return True
        self.retries += 1
        return False
