"""The Prometheus endpoint (`metrics: {listen: ...}`), scraped over real sockets."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
import urllib.error
import urllib.request

import pytest
from support import RawClient, free_port, join, wait_until

from words.config import ConfigError, Listen, config_from_mapping
from words.metrics import CONTENT_TYPE, MetricsServer


@pytest.fixture
async def metrics():
    """`await metrics(server)`: a MetricsServer for `server` on a free loopback port."""
    started: list[MetricsServer] = []

    async def start(server) -> MetricsServer:
        endpoint = MetricsServer(server)
        await endpoint.start(Listen("127.0.0.1", 0))
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        await endpoint.stop()


@pytest.fixture
async def clients():
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        await client.close()


async def http(endpoint: MetricsServer, request: bytes) -> tuple[str, dict[str, str], str]:
    """Send a raw HTTP request; (status line, headers, body)."""
    reader, writer = await asyncio.open_connection(*endpoint.bound)
    writer.write(request)
    await writer.drain()
    response = await asyncio.wait_for(reader.read(), 5)  # the server closes after one answer
    writer.close()
    head, _, body = response.decode().partition("\r\n\r\n")
    status, *lines = head.split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    assert int(headers["content-length"]) == len(body.encode())
    return status, headers, body


def parse(text: str) -> dict[str, float]:
    """Prometheus text format -> {name{labels}: value}; checks every sample has HELP and TYPE."""
    values, typed = {}, set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
        elif line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            base = name.split("{", 1)[0]
            assert base in typed or base.rsplit("_", 1)[0] in typed, f"{base} has no TYPE"
            values[name] = float(value)
    return values


async def scrape(endpoint: MetricsServer) -> dict[str, float]:
    status, headers, body = await http(endpoint, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-type"] == CONTENT_TYPE
    return parse(body)


async def registered(port: int, nick: str, clients: list, password: str | None = None) -> RawClient:
    client = await RawClient.connect(port)
    clients.append(client)
    await client.register(nick, password)
    return client


async def test_gauges_and_counters_over_http(start_server, metrics, clients):
    server = await start_server()
    endpoint = await metrics(server)
    before = await scrape(endpoint)
    assert before["words_clients"] == 0 and before["words_users"] == 0
    assert before["words_channels"] == 0

    alice = await registered(server.port, "alice", clients)
    bob = await registered(server.port, "bob", clients)
    carol = await registered(server.port, "carol", clients)
    unregistered = await RawClient.connect(server.port)
    clients.append(unregistered)
    for client in (alice, bob, carol):
        await join(client, "#metrics")
    await wait_until(lambda: len(server.connections) == 4, "four connections")
    values = await scrape(endpoint)
    assert values["words_clients"] == 4
    assert values["words_users"] == 3
    assert values["words_channels"] == 1
    assert values["words_connections_total"] == 4
    assert values['words_commands_total{command="JOIN"}'] == 3
    assert values["words_lines_in_total"] >= 9  # NICK, USER, JOIN for each
    assert values["words_start_time_seconds"] == pytest.approx(server.created, abs=0.01)

    # One channel message: one line in, one delivery (and one line) to each other member.
    await alice.until_pong()
    await bob.until_pong()
    await carol.until_pong()
    quiet = await scrape(endpoint)
    await alice.send("PRIVMSG #metrics :hello, both")
    await bob.expect("PRIVMSG", "#metrics")
    await carol.expect("PRIVMSG", "#metrics")
    after = await scrape(endpoint)
    assert after["words_lines_in_total"] - quiet["words_lines_in_total"] == 1
    assert after["words_deliveries_total"] - quiet["words_deliveries_total"] == 2
    assert after["words_lines_out_total"] - quiet["words_lines_out_total"] == 2
    line = len(b":alice!~user@127.0.0.1 PRIVMSG #metrics :hello, both\r\n")
    assert after["words_bytes_out_total"] - quiet["words_bytes_out_total"] == 2 * line


async def test_the_python_heap_is_counted_live(start_server, metrics):
    server = await start_server()
    endpoint = await metrics(server)
    before = (await scrape(endpoint))["words_python_heap_blocks"]
    kept = [object() for _ in range(100_000)]  # this process is the server's
    during = (await scrape(endpoint))["words_python_heap_blocks"]
    del kept
    after = (await scrape(endpoint))["words_python_heap_blocks"]
    # The server's own allocations come and go meanwhile: a tenth of margin.
    assert during - before >= 90_000
    assert during - after >= 90_000


async def test_everything_but_get_metrics_is_404(start_server, metrics):
    endpoint = await metrics(await start_server())
    for request in (
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET /metricsx HTTP/1.1\r\n\r\n",
        b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
        b"nonsense\r\n\r\n",
    ):
        status, _, body = await http(endpoint, request)
        assert status == "HTTP/1.1 404 Not Found", request
        assert body == "Not Found\n"
    status, _, _ = await http(endpoint, b"GET /metrics?x=1 HTTP/1.0\r\n\r\n")
    assert status == "HTTP/1.1 200 OK"


async def test_a_request_that_never_ends_is_dropped(start_server, metrics):
    endpoint = await metrics(await start_server())
    reader, writer = await asyncio.open_connection(*endpoint.bound)
    writer.write(b"GET /metrics HTTP/1.1\r\nX: " + b"y" * 20000)  # past the header limit
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b""
    writer.close()
    await scrape(endpoint)  # and the endpoint still serves


async def test_login_failures_are_counted(start_server, metrics, clients):
    server = await start_server(auth=("memory:alice:right-password",))
    endpoint = await metrics(server)
    for _ in range(2):
        client = await RawClient.connect(server.port)
        clients.append(client)
        await client.send("PASS wrong-password")
        await client.send("NICK alice")
        await client.send("USER u 0 * :u")
        await client.expect("464")
    await registered(server.port, "alice", clients, password="right-password")
    assert (await scrape(endpoint))["words_login_failures_total"] == 2


async def test_sendq_disconnects_are_counted(start_server, metrics, clients):
    server = await start_server(limits={"sendq": 64 * 1024})
    endpoint = await metrics(server)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    reader, writer = await asyncio.open_connection(sock=sock)
    bob = RawClient(reader, writer)
    clients.append(bob)
    await bob.register("bob")
    alice = await registered(server.port, "alice", clients)
    for client in (bob, alice):
        await join(client, "#flood")
    await bob.until_pong()
    bob.writer.transport.pause_reading()  # bob reads nothing from here on
    text = b"x" * 400
    for batch in range(500):
        if server.sendq_disconnects:
            break
        await alice.send(b"\r\n".join(b"PRIVMSG #flood :%d %s" % (i, text) for i in range(100)))
        await alice.until_pong()  # the server handled the batch
    values = await scrape(endpoint)
    assert values["words_sendq_disconnects_total"] == 1
    assert values["words_users"] == 1


async def test_database_errors_are_counted(start_server, metrics, clients, tmp_path):
    path = tmp_path / "words.db"
    server = await start_server(database=f"sqlite:///{path}")
    endpoint = await metrics(server)
    before = (await scrape(endpoint))["words_database_errors_total"]
    alice = await registered(server.port, "alice", clients)
    with sqlite3.connect(path) as db:  # the database breaks under the running server
        db.execute("DROP TABLE account_certs")
        db.execute("DROP TABLE accounts")
    await alice.send("REGISTER * * sekrit123")
    fail = await alice.expect("FAIL")
    assert fail.params[0] == "REGISTER"
    assert (await scrape(endpoint))["words_database_errors_total"] == before + 1


async def test_event_loop_lag_is_measured_by_the_sweep_timer(start_server, metrics):
    server = await start_server()
    endpoint = await metrics(server)
    count = server.loop_lag_count
    time.sleep(1.2)  # noqa: ASYNC251 -- on purpose: block the loop past the next sweep (once a second)
    await wait_until(lambda: server.loop_lag_count > count, "a sweep", timeout=5)
    values = await scrape(endpoint)
    assert values["words_event_loop_lag_seconds"] >= 0.15
    assert values["words_event_loop_lag_seconds_summary_sum"] >= 0.15
    assert values["words_event_loop_lag_seconds_summary_count"] >= 1


def test_metrics_listen_is_checked_in_the_config():
    config = config_from_mapping({"metrics": {"listen": "127.0.0.1:9108"}}, "w.yaml")
    assert config.metrics == Listen("127.0.0.1", 9108)
    assert config_from_mapping({}, "w.yaml").metrics is None
    with pytest.raises(ConfigError, match=r"w.yaml: metrics.listen: expected HOST:PORT"):
        config_from_mapping({"metrics": {"listen": "9108"}}, "w.yaml")
    with pytest.raises(ConfigError, match=r"w.yaml: metrics.listen: is required"):
        config_from_mapping({"metrics": {}}, "w.yaml")
    with pytest.raises(ConfigError, match=r"w.yaml: metrics.port: unknown key"):
        config_from_mapping({"metrics": {"port": 9108}}, "w.yaml")


async def test_words_serve_serves_metrics(tmp_path, words_process):
    metrics_port = free_port()
    config = tmp_path / "words.yaml"
    config.write_text(f"metrics: {{listen: '127.0.0.1:{metrics_port}'}}\n")
    port = free_port()
    proc = words_process("--config", str(config), port=port)
    client = await RawClient.connect(port)
    await client.register("alice")

    def get(path: str):
        return urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}{path}", timeout=5)

    with await asyncio.to_thread(get, "/metrics") as response:
        assert response.headers["Content-Type"] == CONTENT_TYPE
        values = parse(response.read().decode())
    assert values["words_users"] == 1 and values["words_clients"] == 1
    with pytest.raises(urllib.error.HTTPError) as missing:
        await asyncio.to_thread(get, "/")
    assert missing.value.code == 404
    await client.close()
    proc.terminate()
    stdout, _ = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{metrics_port}/metrics" in stdout  # in the start-up summary
