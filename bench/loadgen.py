"""The load generator: IRC clients spread over worker processes, driven by the runner.

Each worker is a separate process running one asyncio loop with raw
Protocols (no IRC library), so parsing costs as little as it can: a client
that only receives channel messages counts them with `bytes.count` and never
splits its input into lines. Probe clients (a few per channel) parse every
line: they compute delivery latency from the send timestamp in the text and
check every sender's sequence numbers, so a lost, duplicated or reordered
message is seen.

A channel message's text is `x <sender id> <sequence> <monotonic ns>`;
CLOCK_MONOTONIC is the same clock in every process of the machine.

The runner talks to workers over a multiprocessing Pipe: it sends
`{"op": name, "args": {...}}` and gets back `{"ok": True, ...}` or
`{"ok": False, "error": traceback}`. Every operation has a deadline.
"""

from __future__ import annotations

import asyncio
import collections
import multiprocessing
import os
import random
import resource
import time
import traceback
from typing import Any

_TICK = 0.005  # seconds between two sending rounds
_MAX_LATENCIES = 400_000  # latency samples kept per worker and window


def raise_nofile() -> int:
    """Raise the soft open-files limit to the hard one; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Client(asyncio.Protocol):
    """One IRC client connection of a worker."""

    __slots__ = (
        "w", "gid", "nick", "probe", "transport", "partial", "privmsgs", "registered",
        "closed", "joins", "speak", "base", "extra", "seq", "seen", "nick_pending", "error",
        "password",
    )

    def __init__(self, worker: Worker, gid: int, nick: str, probe: bool,
                 password: str | None = None) -> None:
        loop = asyncio.get_running_loop()
        self.w = worker
        self.gid = gid
        self.nick = nick.encode()
        self.probe = probe
        self.transport: asyncio.Transport | None = None
        self.partial = b""
        self.privmsgs = 0  # PRIVMSG lines received
        self.registered: asyncio.Future = loop.create_future()
        self.closed: asyncio.Future = loop.create_future()
        self.joins: dict[bytes, asyncio.Future] = {}  # channel -> future of its 366
        self.speak: list[bytes] = []  # channels joined (366 seen) we may speak in
        self.base: set[bytes] = set()  # channels from the setup: never parted
        self.extra: list[bytes] = []  # channels joined during a mix
        self.seq: dict[bytes, int] = {}  # channel -> last sequence sent there
        self.seen: dict[tuple[int, bytes], int] = {}  # probe: (sender, channel) -> last seq
        self.nick_pending = False
        self.error = b""
        self.password = password.encode() if password else b""

    # -- asyncio.Protocol --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.password:
            transport.write(b"PASS %s\r\n" % self.password)  # type: ignore[attr-defined]
        transport.write(b"NICK %s\r\nUSER b%d 0 * :bench client\r\n" % (self.nick, self.gid))  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.registered.done():
            self.registered.set_result(False)
        for fut in self.joins.values():
            if not fut.done():
                fut.set_result(False)
        if not self.closed.done():
            self.closed.set_result(True)

    def data_received(self, data: bytes) -> None:
        if self.partial:
            data = self.partial + data
        end = data.rfind(b"\n") + 1
        if end == 0:
            self.partial = data
            return
        self.partial = data[end:]
        if not self.probe:
            # The fast path: a chunk of nothing but channel messages is only counted.
            lines = data.count(b"\n", 0, end)
            privmsgs = data.count(b" PRIVMSG ", 0, end)
            if lines == privmsgs:
                self.privmsgs += privmsgs
                return
        self._lines(data, end)

    # -- the slow path: every line -----------------------------------------------------

    def _lines(self, data: bytes, end: int) -> None:
        w = self.w
        now = time.monotonic_ns()
        for line in data[:end].split(b"\n"):
            line = line.rstrip(b"\r")
            if not line:
                continue
            if line[0] != 58:  # no prefix ':'
                if line.startswith(b"PING"):
                    self.transport.write(b"PONG" + line[4:] + b"\r\n")
                elif line.startswith(b"ERROR"):
                    self.error = line
                continue
            parts = line.split(b" ", 3)
            if len(parts) < 3:
                continue
            cmd = parts[1]
            if cmd == b"PRIVMSG":
                self.privmsgs += 1
                if self.probe and len(parts) == 4:
                    self._probe(parts[2], parts[3], now)
            elif cmd == b"001":
                if not self.registered.done():
                    self.registered.set_result(True)
            elif cmd == b"366" and len(parts) == 4:
                chan = parts[3].split(b" ", 1)[0]
                fut = self.joins.pop(chan, None)
                if fut is not None:
                    if not fut.done():
                        fut.set_result(True)
                    if chan not in self.speak:
                        self.speak.append(chan)
            elif cmd == b"NICK":
                old = parts[0][1:].split(b"!", 1)[0]
                if old == self.nick:
                    self.nick = parts[2].lstrip(b":")
                    self.nick_pending = False
                w.events[b"NICK"] += 1
            elif len(cmd) == 3 and cmd.isdigit():
                if cmd[0] in b"45":
                    w.errors[cmd.decode()] += 1
                    if cmd == b"433" and not self.registered.done():
                        self.registered.set_result(False)
                    elif cmd == b"433":
                        self.nick_pending = False
                    elif len(parts) == 4:
                        chan = parts[3].split(b" ", 1)[0]
                        fut = self.joins.pop(chan, None)
                        if fut is not None and not fut.done():
                            fut.set_result(False)
            else:
                w.events[cmd] += 1

    def _probe(self, target: bytes, rest: bytes, now: int) -> None:
        w = self.w
        fields = rest.split(b" ")
        if len(fields) != 4 or fields[0] != b":x":
            return
        sid, seq, sent = int(fields[1]), int(fields[2]), int(fields[3])
        key = (sid, target)
        last = self.seen.get(key, 0)
        if seq == last + 1:
            self.seen[key] = seq
        elif seq <= last:
            w.dups += 1
        else:
            w.gaps += seq - last - 1
            self.seen[key] = seq
        if w.recording and len(w.latencies) < _MAX_LATENCIES:
            w.latencies.append(now - sent)

    # -- sending ---------------------------------------------------------------------

    def say(self, chan: bytes, ts: int) -> bytes:
        seq = self.seq.get(chan, 0) + 1
        self.seq[chan] = seq
        return b"PRIVMSG %s :x %d %d %d\r\n" % (chan, self.gid, seq, ts)


class Worker:
    """One load generator process: its clients and the operations the runner asks for."""

    def __init__(self, wid: int, conn: Any) -> None:
        self.wid = wid
        self.conn = conn
        self.clients: dict[int, Client] = {}
        self.recording = False
        self.latencies: list[int] = []
        self.dups = 0
        self.gaps = 0
        self.events: collections.Counter = collections.Counter()
        self.errors: collections.Counter = collections.Counter()
        self._tasks: set[asyncio.Task] = set()
        self._stop: asyncio.Future | None = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._stop = loop.create_future()
        loop.add_reader(self.conn.fileno(), self._on_pipe)
        try:
            await self._stop
        finally:
            loop.remove_reader(self.conn.fileno())
            for client in self.clients.values():
                if client.transport is not None:
                    client.transport.abort()

    def _on_pipe(self) -> None:
        try:
            msg = self.conn.recv()
        except (EOFError, OSError):
            if not self._stop.done():
                self._stop.set_result(None)
            return
        if msg["op"] == "exit":
            self.conn.send({"ok": True})
            self._stop.set_result(None)
            return
        task = asyncio.get_running_loop().create_task(self._handle(msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, msg: dict) -> None:
        try:
            result = await getattr(self, "op_" + msg["op"])(**msg.get("args", {}))
            reply = {"ok": True, **(result or {})}
        except Exception:
            reply = {"ok": False, "error": f"worker {self.wid}: {traceback.format_exc()}"}
        self.conn.send(reply)

    # -- operations ----------------------------------------------------------------------

    async def op_connect(self, host: str, port: int, clients: list, inflight: int,
                         start_at: float, timeout: float, password: str | None = None) -> dict:
        """Connect and register clients [(gid, nick, probe)], at most `inflight` at once;
        with `password`, each sends PASS first."""
        loop = asyncio.get_running_loop()
        await _sleep_until(start_at)
        deadline = time.monotonic() + timeout
        sem = asyncio.Semaphore(inflight)
        done: list[float] = []
        failures: collections.Counter = collections.Counter()

        async def one(gid: int, nick: str, probe: bool) -> None:
            async with sem:
                client = Client(self, gid, nick, probe, password)
                try:
                    await asyncio.wait_for(
                        loop.create_connection(lambda: client, host, port),
                        max(0.01, deadline - time.monotonic()),
                    )
                    ok = await asyncio.wait_for(client.registered, max(0.01, deadline - time.monotonic()))
                except (OSError, asyncio.TimeoutError) as exc:
                    failures[type(exc).__name__] += 1
                    if client.transport is not None:
                        client.transport.abort()
                    return
                if not ok:
                    failures[(client.error or b"refused").decode(errors="replace")[:80]] += 1
                    return
                self.clients[gid] = client
                done.append(time.monotonic())

        t0 = time.monotonic()
        await asyncio.gather(*(one(*c) for c in clients))
        return {"registered": len(done), "failures": dict(failures), "t_start": t0,
                "t_end": max(done) if done else t0}

    async def op_join(self, plan: dict, inflight: int, timeout: float, base: bool = True) -> dict:
        """Join clients to channels: plan {gid: [channel, ...]}; waits for each 366."""
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + timeout
        sem = asyncio.Semaphore(inflight)
        ok_count = 0
        failed = 0

        async def one(gid: int, chans: list[str]) -> None:
            nonlocal ok_count, failed
            client = self.clients.get(gid)
            if client is None:
                failed += len(chans)
                return
            async with sem:
                futs = []
                for chan in chans:
                    b = chan.encode()
                    fut = client.joins[b] = loop.create_future()
                    futs.append(fut)
                    if base:
                        client.base.add(b)
                client.transport.write(b"".join(b"JOIN %s\r\n" % c.encode() for c in chans))
                try:
                    results = await asyncio.wait_for(
                        asyncio.gather(*futs), max(0.01, deadline - time.monotonic())
                    )
                except asyncio.TimeoutError:
                    failed += len(chans)
                    return
                ok_count += sum(1 for r in results if r)
                failed += sum(1 for r in results if not r)

        t0 = time.monotonic()
        await asyncio.gather(*(one(int(gid), chans) for gid, chans in plan.items()))
        return {"joined": ok_count, "failed": failed, "t_start": t0, "t_end": time.monotonic()}

    async def op_fanout(self, senders: list, rate: float, start_at: float, duration: float,
                        record: bool) -> dict:
        """Send channel messages at `rate` a second: senders [(gid, channel)] in turn."""
        pairs = [(self.clients[gid], chan.encode()) for gid, chan in senders if gid in self.clients]
        await _sleep_until(start_at)
        sent_by_chan: collections.Counter = collections.Counter()
        idx, sent = 0, 0
        n = len(pairs)
        cap = int(rate * _TICK * 4) + 1
        self.latencies = []
        self.recording = record
        recv0 = self.received()
        start = time.monotonic()
        end = start + duration
        while n:
            now = time.monotonic()
            if now >= end:
                break
            due = min(int((now - start) * rate) - sent, cap)
            if due > 0:
                ts = time.monotonic_ns()
                batch: dict[Client, list[bytes]] = {}
                for _ in range(due):
                    client, chan = pairs[idx]
                    idx = idx + 1 if idx + 1 < n else 0
                    line = client.say(chan, ts)
                    lines = batch.get(client)
                    if lines is None:
                        batch[client] = [line]
                    else:
                        lines.append(line)
                    sent_by_chan[chan] += 1
                for client, lines in batch.items():
                    client.transport.write(b"".join(lines))
                sent += due
            await asyncio.sleep(_TICK)
        recv1 = self.received()
        t_end = time.monotonic()
        self.recording = False
        backlog = sum(c.transport.get_write_buffer_size() for c in self.clients.values()
                      if c.transport is not None)
        return {"sent": sent, "sent_by_chan": {k.decode(): v for k, v in sent_by_chan.items()},
                "recv_window": recv1 - recv0, "t_start": start, "t_end": t_end,
                "latencies": self.latencies, "send_backlog": backlog}

    async def op_mix(self, rate: float, start_at: float, duration: float, weights: dict,
                     roam: list, owners: dict, seed: int) -> dict:
        """A realistic mix at `rate` operations a second: messages, joins/parts, nicks, topics.

        `roam`: channels a client may join and part; `owners`: {gid: channel} whose
        owner sets topics there. Setup channels (client.base) are never parted.
        """
        rng = random.Random(seed)
        clients = list(self.clients.values())
        owner_list = [(self.clients[int(g)], c.encode()) for g, c in owners.items()
                      if int(g) in self.clients]
        roam_b = [c.encode() for c in roam]
        kinds = list(weights)
        cum = list(itertools_accumulate(weights[k] for k in kinds))
        counts: collections.Counter = collections.Counter()
        await _sleep_until(start_at)
        self.latencies = []
        self.recording = True
        recv0 = self.received()
        start = time.monotonic()
        end = start + duration
        done = 0
        cap = int(rate * _TICK * 4) + 1
        loop = asyncio.get_running_loop()
        while clients:
            now = time.monotonic()
            if now >= end:
                break
            due = min(int((now - start) * rate) - done, cap)
            if due > 0:
                ts = time.monotonic_ns()
                batch: dict[Client, list[bytes]] = collections.defaultdict(list)
                for _ in range(due):
                    kind = rng.choices(kinds, cum_weights=cum)[0]
                    if kind == "message":
                        client = rng.choice(clients)
                        if client.speak:
                            batch[client].append(client.say(rng.choice(client.speak), ts))
                            counts["message"] += 1
                    elif kind == "joinpart":
                        client = rng.choice(clients)
                        if client.probe or client.joins:
                            pass  # probes stay put; a JOIN still waiting for its 366
                        elif client.extra:
                            chan = client.extra.pop()
                            if chan in client.speak:
                                client.speak.remove(chan)
                            batch[client].append(b"PART %s :bye\r\n" % chan)
                            counts["part"] += 1
                        else:
                            chan = rng.choice(roam_b)
                            if chan not in client.base:
                                client.extra.append(chan)
                                client.joins[chan] = loop.create_future()
                                batch[client].append(b"JOIN %s\r\n" % chan)
                                counts["join"] += 1
                    elif kind == "nick":
                        client = rng.choice(clients)
                        if not client.nick_pending:
                            client.nick_pending = True
                            new = client.nick[:-1] if client.nick.endswith(b"_") else client.nick + b"_"
                            batch[client].append(b"NICK %s\r\n" % new)
                            counts["nick"] += 1
                    elif kind == "topic" and owner_list:
                        client, chan = rng.choice(owner_list)
                        batch[client].append(b"TOPIC %s :topic %d\r\n" % (chan, ts))
                        counts["topic"] += 1
                for client, lines in batch.items():
                    if client.transport is not None:
                        client.transport.write(b"".join(lines))
                done += due
            await asyncio.sleep(_TICK)
        recv1 = self.received()
        t_end = time.monotonic()
        self.recording = False
        return {"ops": done, "counts": dict(counts), "recv_window": recv1 - recv0,
                "t_start": start, "t_end": t_end, "latencies": self.latencies}

    async def op_counts(self, seen: bool = False) -> dict:
        """Received totals; with `seen`, every probe's last sequence per (sender, channel)
        and every sender's last sequence per channel."""
        result: dict[str, Any] = {
            "received": self.received(), "dups": self.dups, "gaps": self.gaps,
            "events": {k.decode(): v for k, v in self.events.items()}, "errors": dict(self.errors),
            "clients": len(self.clients),
            "open": sum(1 for c in self.clients.values() if not c.closed.done()),
        }
        if seen:
            result["seen"] = [
                (c.gid, sid, chan.decode(), last)
                for c in self.clients.values() if c.probe
                for (sid, chan), last in c.seen.items()
            ]
            result["sent"] = [
                (c.gid, chan.decode(), seq) for c in self.clients.values() for chan, seq in c.seq.items()
            ]
            result["members"] = {
                c.gid: [ch.decode() for ch in c.speak] for c in self.clients.values() if c.probe
            }
        return result

    async def op_quit(self, timeout: float) -> dict:
        """QUIT every client and wait for the server to close each connection."""
        clients = list(self.clients.values())
        for client in clients:
            if client.transport is not None and not client.closed.done():
                client.transport.write(b"QUIT :bench done\r\n")
        t0 = time.monotonic()
        pending = [c.closed for c in clients if not c.closed.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)
        aborted = 0
        for client in clients:
            if not client.closed.done() and client.transport is not None:
                client.transport.abort()
                aborted += 1
        self.clients.clear()
        return {"closed": len(clients) - aborted, "aborted": aborted, "t_start": t0,
                "t_end": time.monotonic()}

    async def op_lusers(self, host: str, port: int, nick: str, timeout: float) -> dict:
        """Connect one client, read the server's current local user count from 265."""
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        try:
            # The welcome burst carries LUSERS: 265 <nick> <current local users> ...
            writer.write(f"NICK {nick}\r\nUSER probe 0 * :probe\r\n".encode())
            count = None
            deadline = time.monotonic() + timeout
            while count is None:
                raw = await asyncio.wait_for(reader.readline(), max(0.01, deadline - time.monotonic()))
                if not raw:
                    break
                parts = raw.split(b" ")
                if len(parts) > 3 and parts[1] == b"265" and parts[3].isdigit():
                    count = int(parts[3])
            writer.write(b"QUIT\r\n")
            return {"local_users": count}
        finally:
            writer.close()

    def received(self) -> int:
        return sum(c.privmsgs for c in self.clients.values())


def itertools_accumulate(values):
    total = 0.0
    for v in values:
        total += v
        yield total


async def _sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def _worker_main(wid: int, conn: Any, cpus: list[int] | None) -> None:
    if cpus:
        try:
            os.sched_setaffinity(0, cpus)
        except OSError:
            pass
    raise_nofile()
    try:
        asyncio.run(Worker(wid, conn).run())
    except KeyboardInterrupt:
        pass


class LoadGen:
    """The runner's handle on the worker processes."""

    def __init__(self, workers: int, cpus: list[int] | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conns = []
        self.procs = []
        for wid in range(workers):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_worker_main, args=(wid, child, cpus), daemon=True,
                               name=f"bench-loadgen-{wid}")
            proc.start()
            child.close()
            self.conns.append(parent)
            self.procs.append(proc)

    @property
    def n(self) -> int:
        return len(self.conns)

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def call(self, op: str, args_per_worker: list[dict], timeout: float) -> list[dict]:
        """Run `op` on every worker at once; their replies, in worker order."""
        for conn, args in zip(self.conns, args_per_worker):
            conn.send({"op": op, "args": args})
        deadline = time.monotonic() + timeout
        replies = []
        for wid, conn in enumerate(self.conns):
            if not conn.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"loadgen worker {wid}: no reply to {op} within {timeout:.0f}s")
            reply = conn.recv()
            if not reply.get("ok"):
                raise RuntimeError(reply.get("error", f"worker {wid} failed"))
            replies.append(reply)
        return replies

    def call_one(self, wid: int, op: str, args: dict, timeout: float) -> dict:
        conn = self.conns[wid]
        conn.send({"op": op, "args": args})
        if not conn.poll(timeout):
            raise TimeoutError(f"loadgen worker {wid}: no reply to {op} within {timeout:.0f}s")
        reply = conn.recv()
        if not reply.get("ok"):
            raise RuntimeError(reply.get("error", f"worker {wid} failed"))
        return reply

    def call_same(self, op: str, args: dict, timeout: float) -> list[dict]:
        return self.call(op, [args] * self.n, timeout)

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send({"op": "exit"})
            except (OSError, BrokenPipeError):
                pass
        deadline = time.monotonic() + 5
        for proc in self.procs:
            proc.join(max(0.0, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(1)
        for conn in self.conns:
            conn.close()

    def __enter__(self) -> LoadGen:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
