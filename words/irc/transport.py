"""Plain TCP listeners and connections served from one epoll, without asyncio's
per-connection objects.

asyncio's selector transport costs about 1.5 KB per connection on Python 3.11: the
transport and its extra-info dict (the peer and local addresses, a socket wrapper), a
reader Handle and its Context, a SelectorKey, two bound methods, a weak reference in
the loop's table of transports, and a Task per accepted connection. An idle IRC
client needs its socket and a few fields. Here every plain (non-TLS) listening
socket and every connection accepted from it is registered in one `select.epoll`,
whose own descriptor the asyncio loop watches as a single reader: a connection costs
its socket, a `PlainTransport` of seven slots and a list slot; readiness is kept by
the kernel.

`PlainTransport` does what IRCConnection asks of an asyncio transport (write,
get_write_buffer_size, get_extra_info, pause_reading, resume_reading, close, abort,
is_closing) with asyncio's semantics: connection_made once accepted, data_received
per read, connection_lost exactly once and from the loop (never inside close() or
abort()), close() sends what is buffered first. It has no write flow control
(pause_writing): IRCConnection bounds its output by `limits.sendq` itself.

Used for plain listeners on asyncio's own loop on Linux (`available`); TLS listeners,
uvloop and other systems keep asyncio's create_server.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import select
import socket
from collections.abc import Callable
from typing import Any

log = logging.getLogger("words.irc")

_IN = getattr(select, "EPOLLIN", 1)
_OUT = getattr(select, "EPOLLOUT", 4)
_RECV_SIZE = 65536  # bytes read at most per ready connection and pass
_MAX_EVENTS = 1024  # events handled per pass of the loop; the rest wait for the next
# accept() failures that mean "out of descriptors or memory": stop accepting a while
# (Linux keeps the listening socket ready, so retrying at once would spin).
_RESOURCE_ERRORS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
_ACCEPT_RETRY_SECONDS = 1.0


def available(loop: asyncio.AbstractEventLoop) -> bool:
    """Can plain listeners be served by a Reactor on `loop`: asyncio's selector loop on Linux."""
    return hasattr(select, "epoll") and isinstance(loop, asyncio.selector_events.BaseSelectorEventLoop)


class Reactor:
    """One epoll for many sockets; the asyncio loop watches its descriptor as one reader.

    Each registered descriptor has a handler object whose `_ready(events)` is called
    with the epoll event mask. Handlers are removed before their socket is closed,
    and closing is always deferred to a later loop callback, so a descriptor number
    reused by accept() never receives an event meant for the old one.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._epoll = select.epoll()
        # Handlers by descriptor number: the kernel hands out the lowest free ones, so a
        # list indexed by them is dense (8 bytes a connection; a dict entry and its int
        # key were 60).
        self._handlers: list[Any] = []
        self._count = 0
        self._stopping = False
        self._buffer = bytearray(_RECV_SIZE)  # every read lands here, then is copied out
        self._view = memoryview(self._buffer)
        loop.add_reader(self._epoll.fileno(), self._poll)

    def add(self, fd: int, handler: Any, mask: int) -> None:
        handlers = self._handlers
        if fd >= len(handlers):
            handlers.extend([None] * (fd + 1 - len(handlers)))
        handlers[fd] = handler
        self._count += 1
        if mask:
            self._epoll.register(fd, mask)

    def update(self, fd: int, old: int, new: int) -> None:
        """Change what `fd` waits for; a descriptor waiting for nothing is left out of the
        epoll (it would still report hang-ups, again and again while paused)."""
        if not new:
            self._epoll.unregister(fd)
        elif not old:
            self._epoll.register(fd, new)
        else:
            self._epoll.modify(fd, new)

    def remove(self, fd: int, mask: int) -> None:
        if mask:
            self._epoll.unregister(fd)
        handlers = self._handlers
        handlers[fd] = None
        self._count -= 1
        while handlers and handlers[-1] is None:
            handlers.pop()  # the list shrinks back with the highest descriptor in use
        if self._stopping and not self._count:
            self._close()

    def stop(self) -> None:
        """Close the epoll once its last socket is gone (now, if none is left)."""
        self._stopping = True
        if not self._count:
            self._close()

    def _close(self) -> None:
        if not self._epoll.closed:
            self.loop.remove_reader(self._epoll.fileno())
            self._epoll.close()

    def _poll(self) -> None:
        try:
            events = self._epoll.poll(0, _MAX_EVENTS)
        except InterruptedError:
            return
        handlers = self._handlers
        for fd, mask in events:
            handler = handlers[fd] if fd < len(handlers) else None
            if handler is not None:
                handler._ready(mask)

    async def listen(self, factory: Callable[[], asyncio.Protocol], host: str | None, port: int,
                     *, backlog: int, reuse_port: bool = False) -> PlainListener:
        """Bind and listen as loop.create_server(reuse_address=True) does: one socket per
        address `host` resolves to (IPv6 sockets IPv6-only); OSError if one cannot be bound."""
        infos = await self.loop.getaddrinfo(host or None, port, family=socket.AF_UNSPEC,
                                            type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        sockets: list[socket.socket] = []
        try:
            for family, kind, proto, _name, address in dict.fromkeys(infos):
                try:
                    sock = socket.socket(family, kind, proto)
                except OSError:
                    continue  # a family this system cannot make
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                try:
                    sock.bind(address)
                except OSError as err:
                    raise OSError(err.errno, f"error while attempting to bind on address "
                                             f"{address!r}: {(err.strerror or '').lower()}") from None
            for sock in sockets:
                sock.listen(backlog)
                sock.setblocking(False)
        except BaseException:
            for sock in sockets:
                sock.close()
            raise
        return PlainListener(self, sockets, factory, backlog)


class PlainListener:
    """Listening sockets served by a Reactor: what IRCServer uses of an asyncio.Server."""

    def __init__(self, reactor: Reactor, sockets: list[socket.socket],
                 factory: Callable[[], asyncio.Protocol], backlog: int) -> None:
        self._reactor = reactor
        self._factory = factory
        self._backlog = backlog
        self._acceptors = [_Acceptor(self, sock) for sock in sockets]

    @property
    def sockets(self) -> tuple[socket.socket, ...]:
        return tuple(a.sock for a in self._acceptors)

    def close(self) -> None:
        """Stop accepting and close the listening sockets; accepted connections stay."""
        acceptors, self._acceptors = self._acceptors, []
        for acceptor in acceptors:
            acceptor.close()

    async def wait_closed(self) -> None:
        return None


class _Acceptor:
    """One listening socket: accepts up to `backlog` connections per ready event, as asyncio."""

    __slots__ = ("fd", "listener", "mask", "retry", "sock")

    def __init__(self, listener: PlainListener, sock: socket.socket) -> None:
        self.listener = listener
        self.sock = sock
        self.fd = sock.fileno()
        self.mask = _IN
        self.retry: asyncio.TimerHandle | None = None
        listener._reactor.add(self.fd, self, _IN)

    def close(self) -> None:
        if self.retry is not None:
            self.retry.cancel()
        self.listener._reactor.remove(self.fd, self.mask)
        self.mask = 0
        self.sock.close()

    def _ready(self, _events: int) -> None:
        listener = self.listener
        for _ in range(listener._backlog):
            try:
                sock, address = self.sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return  # nothing more waiting
            except OSError as exc:
                if exc.errno in _RESOURCE_ERRORS:
                    log.error("accept() on %s failed: %s; accepting again in %.0f s",
                              self.sock.getsockname(), exc, _ACCEPT_RETRY_SECONDS)
                    self._pause()
                else:
                    log.exception("accept() on %s failed", self.sock.getsockname())
                return
            _serve(listener, sock, address)

    def _pause(self) -> None:
        self.listener._reactor.update(self.fd, self.mask, 0)
        self.mask = 0
        self.retry = self.listener._reactor.loop.call_later(_ACCEPT_RETRY_SECONDS, self._resume)

    def _resume(self) -> None:
        self.retry = None
        if self.listener._acceptors and self in self.listener._acceptors:
            self.listener._reactor.update(self.fd, 0, _IN)
            self.mask = _IN


def _serve(listener: PlainListener, sock: socket.socket, address: Any) -> None:
    try:
        sock.setblocking(False)
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        protocol = listener._factory()
    except Exception:
        log.exception("could not set up a connection from %s", address)
        sock.close()
        return
    transport = PlainTransport(listener._reactor, sock, protocol)
    transport._peer = address  # asyncio's "peername", for connection_made
    try:
        protocol.connection_made(transport)
    except Exception as exc:  # noqa: BLE001 - reported by _fatal, as asyncio does
        transport._fatal(exc, "protocol.connection_made() failed")
    finally:
        transport._peer = None


class PlainTransport:
    """One accepted connection: asyncio.Transport's part IRCConnection uses (module docstring)."""

    __slots__ = ("_buffer", "_mask", "_peer", "_protocol", "_reactor", "_sock", "_state")

    # _state: what the connection is doing.
    _OPEN = 0
    _CLOSING = 1  # close() called: no more reading; the buffer drains, then it is lost
    _LOST = 2  # connection_lost is scheduled or done

    def __init__(self, reactor: Reactor, sock: socket.socket, protocol: asyncio.Protocol) -> None:
        self._reactor = reactor
        self._sock = sock
        self._protocol = protocol
        self._buffer: bytearray | None = None  # what the socket did not take yet
        self._mask = _IN
        self._state = self._OPEN
        self._peer: Any = None
        reactor.add(sock.fileno(), self, _IN)

    # -- asyncio.Transport's API --------------------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        try:
            if name == "peername":
                return self._peer if self._peer is not None else self._sock.getpeername()
            if name == "sockname":
                return self._sock.getsockname()
        except OSError:
            return default
        if name == "socket":
            return self._sock
        return default

    def is_closing(self) -> bool:
        return self._state != self._OPEN

    def get_write_buffer_size(self) -> int:
        buffer = self._buffer
        return len(buffer) if buffer is not None else 0

    def write(self, data: bytes) -> None:
        if self._state == self._LOST or not data:
            return
        buffer = self._buffer
        if buffer is not None:
            buffer += data  # the socket is full: it waits for the next write-ready
            return
        try:
            sent = self._sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:  # a reset or a broken pipe: the client is gone
            self._force_close(exc)
            return
        if sent < len(data):
            self._buffer = bytearray(memoryview(data)[sent:])
            self._set_mask(self._mask | _OUT)

    def pause_reading(self) -> None:
        if self._state == self._OPEN:
            self._set_mask(self._mask & ~_IN)

    def resume_reading(self) -> None:
        if self._state == self._OPEN:
            self._set_mask(self._mask | _IN)

    def close(self) -> None:
        """Stop reading; connection_lost(None) once what is buffered was sent."""
        if self._state != self._OPEN:
            return
        self._state = self._CLOSING
        self._set_mask(self._mask & ~_IN)
        if self._buffer is None:
            self._lose(None)

    def abort(self) -> None:
        """Drop what is buffered; connection_lost(None) soon."""
        self._force_close(None)

    # -- readiness (Reactor) ----------------------------------------------------------------

    def _ready(self, events: int) -> None:
        # A hang-up or an error is reported whatever the mask: the read or the write
        # that follows finds out which.
        if self._buffer is not None and events & ~_IN:
            self._write_ready()
        if self._mask & _IN and events & ~_OUT:
            self._read_ready()

    def _read_ready(self) -> None:
        reactor = self._reactor
        try:
            n = self._sock.recv_into(reactor._buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._force_close(exc)
            return
        if not n:
            self._eof()
            return
        try:
            self._protocol.data_received(bytes(reactor._view[:n]))
        except Exception as exc:  # noqa: BLE001 - reported by _fatal, as asyncio does
            self._fatal(exc, "Fatal error: protocol.data_received() call failed.")

    def _eof(self) -> None:
        try:
            keep_open = self._protocol.eof_received()
        except Exception as exc:  # noqa: BLE001 - reported by _fatal, as asyncio does
            self._fatal(exc, "Fatal error: protocol.eof_received() call failed.")
            return
        if keep_open:
            self._set_mask(self._mask & ~_IN)
        else:
            self.close()

    def _write_ready(self) -> None:
        buffer = self._buffer
        assert buffer is not None
        try:
            sent = self._sock.send(buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._force_close(exc)
            return
        del buffer[:sent]
        if buffer:
            return
        self._buffer = None
        self._set_mask(self._mask & ~_OUT)
        if self._state == self._CLOSING:
            self._lose(None)

    # -- the end --------------------------------------------------------------------

    def _set_mask(self, mask: int) -> None:
        if mask != self._mask:
            self._reactor.update(self._sock.fileno(), self._mask, mask)
            self._mask = mask

    def _fatal(self, exc: Exception, message: str) -> None:
        """The protocol failed: tell the loop's exception handler, and end the connection."""
        self._reactor.loop.call_exception_handler({
            "message": message, "exception": exc, "transport": self, "protocol": self._protocol,
        })
        self._force_close(exc)

    def _force_close(self, exc: BaseException | None) -> None:
        if self._state == self._LOST:
            return
        self._buffer = None
        self._set_mask(0)
        self._lose(exc)

    def _lose(self, exc: BaseException | None) -> None:
        self._state = self._LOST
        self._set_mask(0)
        self._reactor.loop.call_soon(self._connection_lost, exc)

    def _connection_lost(self, exc: BaseException | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            self._reactor.remove(self._sock.fileno(), 0)
            self._sock.close()
            # The protocol holds this transport: without the cycle, both go as soon as
            # the protocol is dropped, not at the next full garbage collection.
            self._protocol = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        state = ("open", "closing", "lost")[self._state]
        return f"<PlainTransport fd={self._sock.fileno()} {state}>"
