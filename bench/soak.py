"""A long fuzz and soak run against a real `words serve` (minutes; not part of CI).

    python -m bench.soak                          # 5 minutes, 200 clients
    python -m bench.soak --duration 1800 --clients 500 --database sqlite --json soak.json

Three kinds of clients run side by side on 127.0.0.1, each reconnecting when
the server drops it:

- chatters (most): register, join channels, talk, change nick and topic, and
  send a PING now and then whose PONG latency is measured;
- fuzzers (`--fuzz-share`): random bytes, mutated well-formed lines, random
  commands with odd parameters, overlong lines, NULs, bad UTF-8, odd tags;
- churners (`--churn-share`): connect, register, join, then QUIT or vanish
  (abort, no QUIT), again and again.

Every `--interval` seconds it samples the server's RSS and open descriptors
(/proc) and its Prometheus metrics (clients, users, channels, event-loop lag).
At the end every client leaves; then the server must still be running, serve a
newcomer, be back to zero clients and about as many descriptors as it started
with, and have logged no handler exception or traceback. Memory growth is RSS
at the end against RSS after the warm-up (the first fifth of the run), and the
slope of RSS over the rest of the run. The exit code is 1 when any check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SAMPLES = [
    b"PRIVMSG #soak0 :hello there", b"JOIN #soak1", b"MODE #soak0 +ntk-l key", b"MODE #soak0 +b *!*@*",
    b"@+a=b;c=\\sd :x!y@z PRIVMSG #soak2 :tagged", b"TOPIC #soak0 :new topic", b"WHO #soak0 %tnuhraf",
    b"WHOIS chat1", b"NAMES #soak0", b"NICK fuzzy", b"KICK #soak0 chat1 :out", b"CAP LS 302",
    b"CAP REQ :sasl message-tags batch", b"AUTHENTICATE PLAIN", b"AUTHENTICATE Zm9vAGZvbwBiYXI=",
    b"LIST >0", b"PRIVMSG chat1 :\x01ACTION waves\x01", b"TAGMSG #soak0", b"AWAY :gone",
    b"INVITE chat2 #soak0", b"MONITOR + chat1,chat2", b"CHATHISTORY LATEST #soak0 * 10",
    b"REGISTER * * password123", b"PRIVMSG NickServ :HELP", b"PRIVMSG ChanServ :INFO #soak0",
    b"SETNAME :new name", b"USERHOST chat1 chat2", b"ISON chat1", b"WHOWAS chat1", b"PART #soak1 :bye",
]
COMMANDS = [
    "PRIVMSG", "NOTICE", "JOIN", "PART", "MODE", "TOPIC", "NAMES", "LIST", "WHO", "WHOIS", "WHOWAS",
    "NICK", "USER", "PASS", "CAP", "AUTHENTICATE", "PING", "PONG", "AWAY", "INVITE", "KICK", "MOTD",
    "LUSERS", "VERSION", "TIME", "ADMIN", "INFO", "STATS", "OPER", "REHASH", "KILL", "WALLOPS",
    "ISON", "USERHOST", "TAGMSG", "MONITOR", "SETNAME", "REGISTER", "CHATHISTORY", "KLINE", "DLINE",
]
PARAMS = ["#soak0", "#soak1", "chat1", "*", ":", "0", "+o", "-b", "*!*@*", "\x01", "", "#", "&x", ":a b"]


def mutate(rng: random.Random, line: bytes) -> bytes:
    data = bytearray(line)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.3 and data:
            del data[rng.randrange(len(data))]
        elif choice < 0.6:
            data.insert(rng.randint(0, len(data)), rng.randrange(256))
        elif choice < 0.8:
            data[rng.randint(0, len(data)):] = b" " * rng.randint(0, 40)
        else:
            data += bytes(rng.randrange(256) for _ in range(rng.randint(0, 600)))
    return bytes(data)


def fuzz_line(rng: random.Random) -> bytes:
    kind = rng.random()
    if kind < 0.35:
        line = mutate(rng, rng.choice(SAMPLES))
    elif kind < 0.65:
        params = [rng.choice(PARAMS) if rng.random() < 0.8 else "x" * rng.randint(0, 600)
                  for _ in range(rng.randint(0, 8))]
        line = " ".join([rng.choice(COMMANDS), *params]).encode()
    elif kind < 0.75:
        line = b"@" + b";".join(b"k%d=%s" % (i, os.urandom(rng.randint(0, 30)).hex().encode())
                                for i in range(rng.randint(1, 60))) + b" PRIVMSG #soak0 :tags"
    elif kind < 0.85:
        line = rng.choice(SAMPLES) + b"\x00" + os.urandom(rng.randint(0, 20))
    else:
        line = os.urandom(rng.randint(0, 900))
    return line.replace(b"\n", b"")


@dataclass
class Stats:
    connects: int = 0
    lines_sent: int = 0
    lines_received: int = 0
    closed_by_server: Counter = field(default_factory=Counter)  # reason -> count
    ping_latency: list[float] = field(default_factory=list)  # chatters' PING -> PONG, seconds
    unanswered_pings: int = 0


def closing_reason(line: str) -> str:
    """'ERROR :Closing Link: host (reason)' -> 'reason', without numbers (Ping timeout: 61 seconds)."""
    match = re.search(r"\((.*)\)\s*$", line)
    reason = match.group(1) if match else line
    return re.sub(r"\d+", "N", reason)[:60]


class Client:
    """One raw connection: lines out, a reader task that counts what comes back."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.pongs: dict[str, asyncio.Future] = {}
        self.closed = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.welcome = asyncio.Event()

    async def open(self, port: int) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        self.stats.connects += 1
        self.task = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        assert self.reader is not None
        try:
            while True:
                raw = await self.reader.readline()
                if not raw:
                    break
                self.stats.lines_received += 1
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                parts = line.split(" ")
                if line.startswith("PING "):
                    self.send(b"PONG " + line[5:].encode())
                elif line.startswith("ERROR "):
                    self.stats.closed_by_server[closing_reason(line)] += 1
                elif len(parts) > 1 and parts[1] == "001":
                    self.welcome.set()
                elif len(parts) > 3 and parts[1] == "PONG":
                    waiter = self.pongs.pop(parts[3].lstrip(":"), None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(time.monotonic())
        except (ConnectionError, asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            self.closed.set()

    def send(self, data: bytes) -> None:
        if self.writer is not None and not self.writer.is_closing():
            self.writer.write(data + b"\r\n")
            self.stats.lines_sent += 1

    async def ping(self, token: str, timeout: float = 10.0) -> float | None:
        waiter = asyncio.get_running_loop().create_future()
        self.pongs[token] = waiter
        started = time.monotonic()
        self.send(f"PING :{token}".encode())
        try:
            return await asyncio.wait_for(waiter, timeout) - started
        except TimeoutError:
            return None

    async def register(self, nick: str, timeout: float = 15.0) -> bool:
        self.send(f"NICK {nick}".encode())
        self.send(f"USER {nick} 0 * :soak {nick}".encode())
        try:
            await asyncio.wait_for(self.welcome.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def drain(self) -> None:
        if self.writer is not None:
            try:
                await self.writer.drain()
            except ConnectionError:
                pass

    async def close(self, abort: bool = False) -> None:
        if self.writer is not None:
            if abort:
                self.writer.transport.abort()
            else:
                self.writer.close()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


async def chatter(n: int, port: int, stats: Stats, stop_at: float, rng: random.Random, rate: float) -> None:
    serial = 0
    while time.monotonic() < stop_at:
        client = Client(stats)
        try:
            await client.open(port)
            serial += 1
            if not await client.register(f"chat{n}x{serial}"):
                continue
            channels = [f"#soak{rng.randrange(20)}" for _ in range(3)]
            client.send(f"JOIN {','.join(channels)}".encode())
            while time.monotonic() < stop_at and not client.closed.is_set():
                await asyncio.sleep(rng.expovariate(rate))
                roll = rng.random()
                if roll < 0.75:
                    client.send(f"PRIVMSG {rng.choice(channels)} :message {rng.random()}".encode())
                elif roll < 0.8:
                    client.send(f"TOPIC {rng.choice(channels)} :topic {rng.randrange(1000)}".encode())
                elif roll < 0.85:
                    serial += 1
                    client.send(f"NICK chat{n}x{serial}".encode())
                elif roll < 0.9:
                    # Move from one channel to another: a chatter stays in three.
                    index = rng.randrange(len(channels))
                    old, channels[index] = channels[index], f"#soak{rng.randrange(20)}"
                    client.send(f"PART {old}\r\nJOIN {channels[index]}".encode())
                else:
                    latency = await client.ping(f"p{n}-{serial}-{rng.randrange(10**9)}")
                    if latency is None:
                        stats.unanswered_pings += 1
                    else:
                        stats.ping_latency.append(latency)
                await client.drain()
        except (ConnectionError, OSError):
            await asyncio.sleep(0.5)
        finally:
            await client.close()


async def fuzzer(n: int, port: int, stats: Stats, stop_at: float, rng: random.Random, rate: float) -> None:
    while time.monotonic() < stop_at:
        client = Client(stats)
        try:
            await client.open(port)
            if rng.random() < 0.7:
                await client.register(f"fuzz{n}x{rng.randrange(10**6)}", timeout=5)
            while time.monotonic() < stop_at and not client.closed.is_set():
                for _ in range(rng.randint(1, 20)):  # bursts, so input pacing has work to do
                    client.send(fuzz_line(rng))
                await client.drain()
                await asyncio.sleep(rng.expovariate(rate))
        except (ConnectionError, OSError):
            await asyncio.sleep(0.5)
        finally:
            await client.close(abort=rng.random() < 0.5)


async def churner(n: int, port: int, stats: Stats, stop_at: float, rng: random.Random) -> None:
    while time.monotonic() < stop_at:
        client = Client(stats)
        try:
            await client.open(port)
            if await client.register(f"churn{n}x{rng.randrange(10**6)}", timeout=5):
                client.send(f"JOIN #soak{rng.randrange(20)}".encode())
                if rng.random() < 0.5:
                    client.send(b"QUIT :churning")
                await client.drain()
            await asyncio.sleep(rng.uniform(0.1, 2.0))
        except (ConnectionError, OSError):
            await asyncio.sleep(0.5)
        finally:
            await client.close(abort=True)


# -- the server ------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_words(workdir: Path, port: int, metrics_port: int, database: str, history: bool) -> subprocess.Popen:
    realm = {"none": "", "sqlite": "realm: {database: 'sqlite:///soak.db'}\n"}[database]
    if not history:
        realm += "history: {enabled: false}\n"
    config = workdir / "soak.yaml"
    config.write_text(
        f"listen: ['127.0.0.1:{port}']\n{realm}"
        f"metrics: {{listen: '127.0.0.1:{metrics_port}'}}\n"
        "hashing: {ln: 4}\n"
        "log_level: warning\n"
        "services: {enforce_nicks: false}\n"
        # The caps would refuse the soak's own clients; everything else stays as shipped.
        "limits: {max_clients: 100000}\n"
    )
    stderr = (workdir / "words.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "words", "serve", "--config", str(config)],
        stdout=subprocess.DEVNULL, stderr=stderr, cwd=REPO,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            metrics(metrics_port)
            return proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"words did not start: {(workdir / 'words.log').read_text()[-2000:]}") from None
            time.sleep(0.1)


def metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, _, value = line.partition(" ")
            values[name] = float(value)
    return values


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def sample(proc: subprocess.Popen, metrics_port: int, started: float) -> dict:
    values = metrics(metrics_port)
    return {
        "t": round(time.monotonic() - started, 1), "rss_kb": rss_kb(proc.pid), "fds": open_fds(proc.pid),
        "clients": int(values.get("words_clients", -1)), "users": int(values.get("words_users", -1)),
        "channels": int(values.get("words_channels", -1)),
        "loop_lag_ms": round(values.get("words_event_loop_lag_seconds", 0.0) * 1000, 1),
    }


def slope_kb_per_min(samples: list[dict]) -> float:
    """Least-squares slope of RSS over time."""
    if len(samples) < 2:
        return 0.0
    ts = [s["t"] / 60 for s in samples]
    rs = [s["rss_kb"] for s in samples]
    mt, mr = sum(ts) / len(ts), sum(rs) / len(rs)
    den = sum((t - mt) ** 2 for t in ts)
    return sum((t - mt) * (r - mr) for t, r in zip(ts, rs)) / den if den else 0.0


async def soak(args: argparse.Namespace) -> dict:
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="words-soak-"))
    port, metrics_port = free_port(), free_port()
    proc = start_words(workdir, port, metrics_port, args.database, args.history == "on")
    started = time.monotonic()
    stop_at = started + args.duration
    baseline = sample(proc, metrics_port, started)
    stats = Stats()
    fuzzers = int(args.clients * args.fuzz_share)
    churners = int(args.clients * args.churn_share)
    chatters = args.clients - fuzzers - churners
    tasks = [asyncio.ensure_future(chatter(i, port, stats, stop_at, random.Random(rng.random()), args.rate))
             for i in range(chatters)]
    tasks += [asyncio.ensure_future(fuzzer(i, port, stats, stop_at, random.Random(rng.random()), args.rate))
              for i in range(fuzzers)]
    tasks += [asyncio.ensure_future(churner(i, port, stats, stop_at, random.Random(rng.random())))
              for i in range(churners)]
    print(f"soak: {chatters} chatters, {fuzzers} fuzzers, {churners} churners for {args.duration:.0f} s "
          f"against words on 127.0.0.1:{port} (log: {workdir / 'words.log'})", flush=True)
    samples = [baseline]
    crashed = False
    try:
        while time.monotonic() < stop_at:
            await asyncio.sleep(min(args.interval, max(0.0, stop_at - time.monotonic())))
            if proc.poll() is not None:
                crashed = True
                break
            now = await asyncio.to_thread(sample, proc, metrics_port, started)
            samples.append(now)
            print(f"  t={now['t']:>6}s rss={now['rss_kb'] / 1024:7.1f} MB fds={now['fds']:>5} "
                  f"clients={now['clients']:>5} channels={now['channels']:>4} lag={now['loop_lag_ms']} ms "
                  f"sent={stats.lines_sent} received={stats.lines_received}", flush=True)
        # A moment for clients between two steps to finish theirs; the rest are cut short.
        await asyncio.wait(tasks, timeout=2.0)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    report: dict = {"seed": args.seed, "duration_s": args.duration, "clients": args.clients,
                    "chatters": chatters, "fuzzers": fuzzers, "churners": churners}
    failures = []
    if crashed or proc.poll() is not None:
        failures.append(f"the server exited with {proc.returncode}")
    else:
        # Everyone has left: the server must be back to no clients, and still serve.
        deadline = time.monotonic() + 30
        while True:
            after = await asyncio.to_thread(sample, proc, metrics_port, started)
            if after["clients"] == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        samples.append(after)
        if after["clients"] != 0:
            failures.append(f"{after['clients']} connections still open after every client left")
        if after["fds"] > baseline["fds"] + 5:
            failures.append(f"{after['fds']} descriptors open against {baseline['fds']} at the start")
        newcomer = Client(stats)
        await newcomer.open(port)
        if not await newcomer.register("newcomer") or await newcomer.ping("final") is None:
            failures.append("a newcomer was not served after the run")
        await newcomer.close()
        report["after"] = after
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            failures.append("the server did not stop within 15 s of SIGTERM")
    log_text = (workdir / "words.log").read_text(errors="replace")
    problems = [line for line in log_text.splitlines()
                if "Traceback" in line or " failed" in line and "handler for" in line]
    if problems:
        failures.append(f"{len(problems)} handler exceptions or tracebacks in the log, first: {problems[0]}")

    warm = [s for s in samples if s["t"] >= args.duration / 5 and s["t"] <= args.duration]
    latencies = sorted(stats.ping_latency)
    report.update({
        "baseline": baseline,
        "rss_after_warmup_kb": warm[0]["rss_kb"] if warm else None,
        "rss_end_of_load_kb": warm[-1]["rss_kb"] if warm else None,
        "rss_slope_kb_per_min": round(slope_kb_per_min(warm), 1),
        "connects": stats.connects, "lines_sent": stats.lines_sent, "lines_received": stats.lines_received,
        "closed_by_server": dict(stats.closed_by_server.most_common()),
        "ping_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1) if latencies else None,
        "ping_p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1) if latencies else None,
        "unanswered_pings": stats.unanswered_pings,
        "samples": samples,
    })
    if warm:
        growth_mb = (warm[-1]["rss_kb"] - warm[0]["rss_kb"]) / 1024
        report["rss_growth_after_warmup_mb"] = round(growth_mb, 1)
        if growth_mb > args.max_growth_mb:
            failures.append(f"RSS grew {growth_mb:.1f} MB after the warm-up (limit {args.max_growth_mb} MB)")
    report["failures"] = failures
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of load (default 300)")
    parser.add_argument("--clients", type=int, default=200, help="clients at once (default 200)")
    parser.add_argument("--fuzz-share", type=float, default=0.3, help="share of fuzzers (default 0.3)")
    parser.add_argument("--churn-share", type=float, default=0.1, help="share of churners (default 0.1)")
    parser.add_argument("--rate", type=float, default=1.0, help="actions a second per chatter (default 1)")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between samples (default 10)")
    parser.add_argument("--database", choices=("none", "sqlite"), default="none",
                        help="the realm: in memory, or SQL on a SQLite file (default none)")
    parser.add_argument("--history", choices=("on", "off"), default="on",
                        help="keep channel history (it fills up to its limits first; default on)")
    parser.add_argument("--max-growth-mb", type=float, default=64.0,
                        help="RSS growth after the warm-up that fails the run (default 64)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    report = asyncio.run(soak(args))
    shown = {k: v for k, v in report.items() if k != "samples"}
    print(json.dumps(shown, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    for failure in report["failures"]:
        print(f"FAIL: {failure}", file=sys.stderr)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
