"""words.irc.transport: plain TCP connections served from one epoll, with asyncio's semantics.

Real sockets on 127.0.0.1; the clients are asyncio streams (asyncio's own transports).
The IRC tests run every plain-listener connection through this transport too.
"""

from __future__ import annotations

import asyncio
import gc
import socket
import struct
import subprocess
import sys
import textwrap
import weakref

import pytest
from support import wait_until

from words.irc.transport import PlainListener, PlainTransport, Reactor, available

pytestmark = pytest.mark.skipif(not hasattr(__import__("select"), "epoll"), reason="Linux epoll")


class Recorder(asyncio.Protocol):
    """Records what the transport tells it, in order."""

    def __init__(self) -> None:
        self.transport: PlainTransport | None = None
        self.peer = None
        self.data = bytearray()
        self.events: list[str] = []
        self.lost: asyncio.Future = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.peer = transport.get_extra_info("peername")
        self.events.append("made")

    def data_received(self, data: bytes) -> None:
        assert type(data) is bytes
        self.data += data
        self.events.append("data")

    def connection_lost(self, exc) -> None:
        self.events.append("lost")
        self.lost.set_result(exc)


@pytest.fixture
async def serve():
    """`listener, protocols = await serve()`: a Reactor listening on a free port."""
    loop = asyncio.get_running_loop()
    assert available(loop)
    reactor = Reactor(loop)
    listeners: list[PlainListener] = []

    async def start(factory=Recorder):
        protocols: list = []

        def make():
            protocols.append(factory())
            return protocols[-1]

        listener = await reactor.listen(make, "127.0.0.1", 0, backlog=16)
        listeners.append(listener)
        return listener, protocols

    yield start
    for listener in listeners:
        listener.close()
    reactor.stop()


async def accepted(protocols: list, n: int = 1) -> list:
    await wait_until(lambda: len(protocols) >= n and all(p.transport for p in protocols),
                     f"{n} connection(s) accepted")
    return protocols


def small_window_client(listener: PlainListener) -> socket.socket:
    """A connected, non-blocking client socket whose small receive buffer fills quickly."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(listener.sockets[0].getsockname())
    sock.setblocking(False)
    return sock


async def test_connection_made_data_and_peer_eof(serve) -> None:
    listener, protocols = await serve()
    port = listener.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    [server_side] = await accepted(protocols)
    assert server_side.peer == writer.get_extra_info("sockname")
    assert server_side.transport.get_extra_info("sockname") == ("127.0.0.1", port)
    assert isinstance(server_side.transport.get_extra_info("socket"), socket.socket)
    assert server_side.transport.get_extra_info("ssl_object") is None
    writer.write(b"NICK a\r\nUSER a 0 * :a\r\n")
    await wait_until(lambda: bytes(server_side.data) == b"NICK a\r\nUSER a 0 * :a\r\n", "the lines")
    server_side.transport.write(b":irc 001 a :hi\r\n")
    assert await asyncio.wait_for(reader.readline(), 5) == b":irc 001 a :hi\r\n"
    writer.close()
    assert await asyncio.wait_for(server_side.lost, 5) is None  # EOF: lost without an error
    assert server_side.events[0] == "made" and server_side.events[-1] == "lost"
    assert server_side.events.count("lost") == 1
    assert server_side.transport.is_closing()


async def test_a_full_socket_buffers_in_order_and_drains(serve) -> None:
    listener, protocols = await serve()
    sock = small_window_client(listener)
    [server_side] = await accepted(protocols)
    transport = server_side.transport
    payload = b"".join(b"%07d\n" % i for i in range(500_000))  # 4 MB, more than the kernel holds
    for i in range(0, len(payload), 65536):
        transport.write(payload[i:i + 65536])
    assert transport.get_write_buffer_size() > 0  # the socket took only part of it
    loop = asyncio.get_running_loop()
    got = bytearray()
    while len(got) < len(payload):
        got += await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 10)
    assert bytes(got) == payload
    await wait_until(lambda: transport.get_write_buffer_size() == 0, "the buffer drained")
    sock.close()
    await asyncio.wait_for(server_side.lost, 5)


async def test_close_sends_what_is_buffered_then_is_lost_once(serve) -> None:
    listener, protocols = await serve()
    sock = small_window_client(listener)
    [server_side] = await accepted(protocols)
    transport = server_side.transport
    payload = b"x" * 3_000_000 + b"ERROR :bye\r\n"
    transport.write(payload)
    assert transport.get_write_buffer_size() > 0
    transport.close()
    transport.close()  # twice is harmless
    assert transport.is_closing()
    assert server_side.events == ["made"]  # connection_lost comes from the loop, later
    loop = asyncio.get_running_loop()
    got = bytearray()
    while chunk := await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 10):  # to EOF
        got += chunk
    assert bytes(got) == payload
    assert await asyncio.wait_for(server_side.lost, 5) is None
    assert server_side.events.count("lost") == 1
    transport.write(b"late")  # after the end: dropped, no error
    sock.close()


async def test_a_lost_connection_is_freed_without_the_cycle_collector(serve) -> None:
    listener, protocols = await serve()
    _reader, writer = await asyncio.open_connection(*listener.sockets[0].getsockname())
    [server_side] = await accepted(protocols)
    writer.close()
    await asyncio.wait_for(server_side.lost, 5)
    await asyncio.sleep(0)  # the transport lets go of the protocol after connection_lost
    gone = weakref.ref(server_side)
    gc.disable()
    try:
        protocols.clear()
        del server_side
        assert gone() is None  # freed by reference counting: no transport <-> protocol cycle
    finally:
        gc.enable()


async def test_abort_drops_the_buffer(serve) -> None:
    listener, protocols = await serve()
    sock = small_window_client(listener)
    [server_side] = await accepted(protocols)
    transport = server_side.transport
    transport.write(b"y" * 4_000_000)
    assert transport.get_write_buffer_size() > 0
    transport.abort()
    assert transport.get_write_buffer_size() == 0
    assert server_side.events == ["made"]
    assert await asyncio.wait_for(server_side.lost, 5) is None
    transport.abort()  # again: nothing more
    await asyncio.sleep(0)
    assert server_side.events.count("lost") == 1
    sock.close()


async def test_a_reset_is_lost_with_its_error(serve) -> None:
    listener, protocols = await serve()
    sock = socket.socket()
    sock.connect(listener.sockets[0].getsockname())
    [server_side] = await accepted(protocols)
    # SO_LINGER 0: close() sends a RST instead of a FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()
    exc = await asyncio.wait_for(server_side.lost, 5)
    assert isinstance(exc, ConnectionResetError)


async def test_paused_reading_holds_the_data_until_resumed(serve) -> None:
    listener, protocols = await serve()
    _reader, writer = await asyncio.open_connection(*listener.sockets[0].getsockname())
    [server_side] = await accepted(protocols)
    server_side.transport.pause_reading()
    writer.write(b"PING :1\r\n")
    await writer.drain()
    writer.close()  # and a FIN: neither is seen while paused
    for _ in range(20):
        await asyncio.sleep(0.01)
    assert server_side.events == ["made"]
    server_side.transport.resume_reading()
    assert await asyncio.wait_for(server_side.lost, 5) is None
    assert bytes(server_side.data) == b"PING :1\r\n"
    assert server_side.events == ["made", "data", "lost"]


async def test_a_failing_protocol_is_reported_and_its_connection_closed(serve) -> None:
    class Failing(Recorder):
        def data_received(self, data: bytes) -> None:
            raise ValueError("handler bug")

    loop = asyncio.get_running_loop()
    reported: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        listener, protocols = await serve(Failing)
        reader, writer = await asyncio.open_connection(*listener.sockets[0].getsockname())
        [server_side] = await accepted(protocols)
        writer.write(b"boom\r\n")
        exc = await asyncio.wait_for(server_side.lost, 5)
        assert isinstance(exc, ValueError) and str(exc) == "handler bug"
        assert await asyncio.wait_for(reader.read(), 5) == b""  # the server closed it
        assert [c["message"] for c in reported] == ["Fatal error: protocol.data_received() call failed."]
        writer.close()
    finally:
        loop.set_exception_handler(None)


async def test_a_closed_listener_refuses_and_its_connections_stay(serve) -> None:
    listener, protocols = await serve()
    address = listener.sockets[0].getsockname()
    reader, writer = await asyncio.open_connection(*address)
    [server_side] = await accepted(protocols)
    listener.close()
    assert listener.sockets == ()
    with pytest.raises(ConnectionRefusedError):
        await asyncio.wait_for(asyncio.open_connection(*address), 5)
    server_side.transport.write(b"still here\r\n")
    assert await asyncio.wait_for(reader.readline(), 5) == b"still here\r\n"
    writer.close()
    await asyncio.wait_for(server_side.lost, 5)


async def test_binding_a_taken_port_says_so() -> None:
    loop = asyncio.get_running_loop()
    reactor = Reactor(loop)
    first = await reactor.listen(asyncio.Protocol, "127.0.0.1", 0, backlog=4)
    port = first.sockets[0].getsockname()[1]
    try:
        with pytest.raises(OSError, match=r"error while attempting to bind on address "
                                          rf"\('127.0.0.1', {port}\): address already in use"):
            await reactor.listen(asyncio.Protocol, "127.0.0.1", port, backlog=4)
    finally:
        first.close()
        reactor.stop()


async def test_the_epoll_closes_after_the_last_connection(serve) -> None:
    loop = asyncio.get_running_loop()
    reactor = Reactor(loop)
    protocols: list[Recorder] = []
    listener = await reactor.listen(lambda: protocols.append(Recorder()) or protocols[-1],
                                    "127.0.0.1", 0, backlog=4)
    reader, writer = await asyncio.open_connection(*listener.sockets[0].getsockname())
    [server_side] = await accepted(protocols)
    listener.close()
    reactor.stop()
    assert not reactor._epoll.closed  # a connection is still served
    server_side.transport.write(b"last\r\n")
    assert await asyncio.wait_for(reader.readline(), 5) == b"last\r\n"
    server_side.transport.close()
    await asyncio.wait_for(server_side.lost, 5)
    assert reactor._epoll.closed
    writer.close()


OUT_OF_FILES = textwrap.dedent("""
    import asyncio, logging, os, resource, sys
    from words.irc.transport import Reactor

    logging.basicConfig(level=logging.ERROR, format="%(message)s", stream=sys.stdout)

    class Hello(asyncio.Protocol):
        def connection_made(self, transport):
            transport.write(b"hello\\n")

    async def main():
        reactor = Reactor(asyncio.get_running_loop())
        listener = await reactor.listen(Hello, "127.0.0.1", 0, backlog=8)
        print(listener.sockets[0].getsockname()[1], flush=True)
        # Room for exactly one more descriptor: the first connection is accepted, the
        # second is not until the first one is gone.
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        spare = []
        try:
            while True:
                spare.append(os.dup(0))
        except OSError:
            os.close(spare.pop())
        print("ready", flush=True)
        await asyncio.sleep(30)

    asyncio.run(main())
""")


async def test_out_of_descriptors_pauses_accepting_then_recovers() -> None:
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", OUT_OF_FILES,
                                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    async def output_line() -> str:
        return (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()

    try:
        port = int(await output_line())
        assert await output_line() == "ready\n"
        first_reader, first_writer = await asyncio.open_connection("127.0.0.1", port)
        assert await asyncio.wait_for(first_reader.readline(), 5) == b"hello\n"
        # The kernel completes the second handshake; accept() fails with EMFILE.
        second_reader, second_writer = await asyncio.open_connection("127.0.0.1", port)
        line = await output_line()
        assert "Too many open files; accepting again in 1 s" in line
        first_writer.close()  # frees a descriptor: the retry accepts the second one
        assert await asyncio.wait_for(second_reader.readline(), 5) == b"hello\n"
        second_writer.close()
        assert proc.returncode is None  # it kept serving
    finally:
        proc.kill()
        rest = (await asyncio.wait_for(proc.stdout.read(), 10)).decode()
        await asyncio.wait_for(proc.wait(), 10)
    # It waited for the retry instead of failing accept() on every pass of the loop.
    assert (line + rest).count("Too many open files") <= 2
