"""Run the benchmark scenarios against words and ngIRCd and report the figures.

    python -m bench.run [--scenario fanout,storm,idle,mix] [--servers words,ngircd] [--quick]

Each scenario starts each server afresh on a free loopback port, pinned to
CPU 0 with `taskset -c 0`; the load generator's worker processes run on the
other CPUs. Figures come from the clients (counts, latencies) and from the
server's /proc/<pid>/stat (CPU) and /proc/<pid>/status (VmRSS). The table is
printed with rich and everything is written to bench/results/<time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bench.loadgen import LoadGen, raise_nofile

REPO = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CPU = 0

SCENARIOS = ("fanout", "storm", "idle", "mix")
# words-uvloop: words with `event_loop: uvloop` (the optional extra words[uvloop]);
# words-nohistory: words with `history: {enabled: false}` (like ngIRCd and Twisted, it
# then keeps no record of joins and messages);
# twisted: Twisted Words' IRC server (bench/twisted_words.py; pip install twisted).
SERVERS = ("words", "ngircd", "words-uvloop", "words-nohistory", "twisted")
DEFAULT_SERVERS = ("words", "ngircd")
# The storm's hashed-password phase: every client sends PASS bench:<this>, checked
# against a password file holding words' default scrypt hash.
BENCH_ACCOUNT, BENCH_PASSWORD = "bench", "bench-password"


# -- sizes -----------------------------------------------------------------------------

@dataclass
class Sizes:
    fanout_clients: int = 500
    fanout_channels: int = 5
    fanout_probes: int = 2  # probe clients per channel (parse every line)
    # Finer from 2M up, where both servers saturate on one core: the sustained figure
    # (the last step kept up with) is only as fine as the steps.
    fanout_steps: tuple = (100_000, 250_000, 500_000, 750_000, 1_000_000, 1_500_000,
                           2_000_000, 2_500_000, 3_000_000, 3_250_000, 3_500_000, 3_750_000,
                           4_000_000, 4_500_000, 5_000_000, 6_000_000)
    fanout_latency_rate: int = 100_000  # deliveries/s of the latency figure (first step)
    step_seconds: float = 3.0
    storm_clients: int = 5000
    storm_channel_size: int = 100
    idle_sizes: tuple = (1000, 10000)
    idle_channel_size: int = 50
    mix_clients: int = 2000
    mix_channels: int = 200
    mix_memberships: int = 3  # channels per client on average
    mix_rate: float = 500.0  # operations a second
    mix_seconds: float = 10.0
    inflight: int = 200  # connections registering at once in the storm's burst
    # Connections registering at once everywhere else: under ngIRCd's listen
    # backlog of 10 (a full accept queue makes the kernel drop or reset connections).
    paced_inflight: int = 8
    hashed_clients: int = 200  # storm: registrations with a password checked against a hash
    drain_seconds: float = 20.0


QUICK = Sizes(
    fanout_clients=100, fanout_channels=5, fanout_probes=2,
    fanout_steps=(100_000, 300_000, 1_000_000, 3_000_000), fanout_latency_rate=100_000,
    step_seconds=1.0, storm_clients=500, storm_channel_size=50, idle_sizes=(500,),
    idle_channel_size=50, mix_clients=200, mix_channels=20, mix_rate=300.0, mix_seconds=3.0,
    inflight=100, hashed_clients=24, drain_seconds=5.0,
)


# -- /proc -------------------------------------------------------------------------------

def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process `pid` (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode} before listening")
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {HOST}:{port} after {timeout}s")
            time.sleep(0.02)


def sleep_until(when: float) -> None:
    delay = when - time.monotonic()
    if delay > 0:
        time.sleep(delay)


# -- servers -----------------------------------------------------------------------------

_apt_updated = False


def ensure_system_package(package: str, binary: str) -> str:
    """The path of `binary`, installing Debian's `package` when missing (as tests/support.py)."""
    global _apt_updated
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin:/usr/bin")
    if found:
        return found
    if os.geteuid() != 0:
        raise RuntimeError(f"{binary} is missing; install it with: sudo apt-get install -y {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=600,
                       capture_output=True)
        _apt_updated = True
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
                   check=True, env=env, timeout=900, capture_output=True)
    found = shutil.which(binary) or shutil.which(binary, path="/usr/sbin:/sbin:/usr/bin")
    if not found:
        raise RuntimeError(f"installed {package} but found no {binary}")
    return found


WORDS_CONFIG = """\
server:
  name: irc.bench.local
  network: Bench
  motd: "bench"
listen:
  - {host}:{port}
realm:
  name: bench.local
auth:
  - anonymous
  - file:{passwd}
event_loop: {event_loop}
limits:
  nicklen: 30
  max_channels_per_user: 500
  max_clients: 100000
  registration_timeout: 600
  ping_interval: 100000
  ping_timeout: 100000
  sendq: 67108864
  max_per_ip: 100000
  per_ip_exempt: ["{host}"]
  flood_burst: 100000000
  flood_rate: 1000000000.0
  flood_max_queued: 100000000
log_level: warning
metrics:
  listen: "{host}:{metrics_port}"
"""

NGIRCD_CONFIG = """\
[Global]
Name = irc.bench.local
Info = bench
Listen = {host}
Ports = {port}
MotdPhrase = bench
AdminInfo1 = bench
AdminInfo2 = bench
AdminEMail = bench@bench.local
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 30
MaxPenaltyTime = 0
PingTimeout = 100000
PongTimeout = 100000
[Options]
DNS = no
Ident = no
PAM = no
"""


class Server:
    """A server under test: started pinned to SERVER_CPU, killed by stop()."""

    def __init__(self, kind: str, workdir: Path) -> None:
        self.kind = kind
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.log_path = workdir / f"{kind}.log"
        # Twisted Words logs a client in with PASS and NICK: its clients send a password.
        self.login_password = "bench" if kind == "twisted" else None
        # Twisted Words has no LUSERS: nothing counts the users left after a QUIT.
        self.counts_users = kind != "twisted"
        # words serves its metrics here (words_python_heap_blocks: its live heap).
        self.metrics_port = 0

    def command(self) -> list[str]:
        self.port = free_port()
        if self.kind.startswith("words"):
            from words.cred import DEFAULT_HASHER

            passwd = self.workdir / "passwd"
            passwd.write_text(f"{BENCH_ACCOUNT}:{DEFAULT_HASHER.hash(BENCH_PASSWORD)}\n")
            loop = "uvloop" if self.kind == "words-uvloop" else "asyncio"
            path = self.workdir / f"{self.kind}.yaml"
            self.metrics_port = free_port()
            text = WORDS_CONFIG.format(host=HOST, port=self.port, passwd=passwd, event_loop=loop,
                                       metrics_port=self.metrics_port)
            if self.kind == "words-nohistory":
                text += "history:\n  enabled: false\n"
            path.write_text(text)
            return [sys.executable, "-m", "words", "serve", "--config", str(path)]
        if self.kind == "ngircd":
            binary = ensure_system_package("ngircd", "ngircd")
            path = self.workdir / "ngircd.conf"
            path.write_text(NGIRCD_CONFIG.format(host=HOST, port=self.port))
            os.chmod(self.workdir, 0o755)  # ngIRCd drops to "nobody" and re-reads nothing, but be safe
            return [binary, "--nodaemon", "--config", str(path)]
        if self.kind == "twisted":
            try:
                import twisted  # noqa: F401
            except ImportError:
                raise RuntimeError("Twisted is missing: pip install twisted") from None
            return [sys.executable, "-m", "bench.twisted_words", "--host", HOST, "--port", str(self.port)]
        raise ValueError(f"unknown server {self.kind!r}")

    def start(self) -> None:
        cmd = self.command()
        if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1:
            cmd = ["taskset", "-c", str(SERVER_CPU), *cmd]
        log = open(self.log_path, "ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, preexec_fn=raise_nofile)
        log.close()
        wait_for_port(self.port, self.proc)
        time.sleep(0.3)  # let the first connection's work (imports, logging) settle

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def cpu(self) -> float:
        return proc_cpu(self.pid)

    def rss_kb(self) -> int:
        return proc_rss_kb(self.pid)

    def heap_blocks(self) -> int | None:
        """words' live Python heap (its words_python_heap_blocks metric); None for the others."""
        if not self.metrics_port:
            return None
        import urllib.request

        url = f"http://{HOST}:{self.metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("words_python_heap_blocks "):
                    return int(float(line.split()[1]))
        return None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


# -- helpers over the load generator -----------------------------------------------------------

def nick(gid: int) -> str:
    return f"u{gid}"


def by_worker(lg: LoadGen, gids: list[int]) -> list[list[int]]:
    out: list[list[int]] = [[] for _ in range(lg.n)]
    for gid in gids:
        out[gid % lg.n].append(gid)
    return out


def connect(lg: LoadGen, server: Server, gids: list[int], probes: set[int], inflight: int,
            timeout: float = 120.0, allow_failures: bool = False,
            password: str | None = None) -> dict:
    start_at = time.monotonic() + 0.3
    per = by_worker(lg, gids)
    password = password or server.login_password
    args = [{"host": HOST, "port": server.port, "clients": [(g, nick(g), g in probes) for g in ws],
             "inflight": max(1, inflight // lg.n), "start_at": start_at, "timeout": timeout,
             "password": password}
            for ws in per]
    replies = lg.call("connect", args, timeout + 30)
    registered = sum(r["registered"] for r in replies)
    failures: Counter = Counter()
    for r in replies:
        failures.update(r["failures"])
    seconds = max(r["t_end"] for r in replies) - start_at
    if registered < len(gids) and not allow_failures:
        raise RuntimeError(f"{server.kind}: only {registered}/{len(gids)} registered: {dict(failures)}")
    return {"registered": registered, "failed": len(gids) - registered, "failures": dict(failures),
            "seconds": seconds, "per_second": registered / seconds}


def join(lg: LoadGen, plan: dict[int, list[str]], inflight: int, timeout: float = 120.0) -> dict:
    per: list[dict] = [{} for _ in range(lg.n)]
    for gid, chans in plan.items():
        per[gid % lg.n][gid] = chans
    t0 = time.monotonic()
    replies = lg.call("join", [{"plan": p, "inflight": max(1, inflight // lg.n), "timeout": timeout}
                               for p in per], timeout + 30)
    joined = sum(r["joined"] for r in replies)
    failed = sum(r["failed"] for r in replies)
    seconds = max(r["t_end"] for r in replies) - t0
    wanted = sum(len(c) for c in plan.values())
    if joined < wanted:
        raise RuntimeError(f"only {joined}/{wanted} joins completed ({failed} failed)")
    return {"joins": joined, "seconds": seconds, "per_second": joined / seconds}


def counts(lg: LoadGen, seen: bool = False) -> dict:
    replies = lg.call_same("counts", {"seen": seen}, 60)
    out: dict[str, Any] = {
        "received": sum(r["received"] for r in replies),
        "dups": sum(r["dups"] for r in replies),
        "gaps": sum(r["gaps"] for r in replies),
        "open": sum(r["open"] for r in replies),
        "events": sum((Counter(r["events"]) for r in replies), Counter()),
        "errors": sum((Counter(r["errors"]) for r in replies), Counter()),
    }
    if seen:
        out["seen"] = [row for r in replies for row in r["seen"]]
        out["sent"] = [row for r in replies for row in r["sent"]]
    return out


def drain(lg: LoadGen, expected: int | None, seconds: float) -> tuple[int, float]:
    """Wait until `expected` channel messages arrived (or, if None, until the count
    stops moving); returns (received, seconds waited)."""
    t0 = time.monotonic()
    deadline = t0 + seconds
    last = -1
    stable = 0
    while True:
        received = counts(lg)["received"]
        if expected is not None and received >= expected:
            return received, time.monotonic() - t0
        if expected is None:
            stable = stable + 1 if received == last else 0
            if stable >= 2:
                return received, time.monotonic() - t0
        if time.monotonic() > deadline:
            return received, time.monotonic() - t0
        last = received
        time.sleep(0.05 if expected is not None else 0.25)


def quit_all(lg: LoadGen, server: Server, timeout: float = 60.0) -> dict:
    replies = lg.call_same("quit", {"timeout": timeout}, timeout + 30)
    seconds = max(r["t_end"] for r in replies) - min(r["t_start"] for r in replies)
    # Until the server counts no user but the one asking.
    deadline = time.monotonic() + timeout
    users = None
    tries = 0
    while server.counts_users and time.monotonic() < deadline:
        tries += 1
        users = lg.call_one(0, "lusers", {"host": HOST, "port": server.port,
                                         "nick": f"lusers{tries}", "timeout": 10}, 30)["local_users"]
        if users is not None and users <= 1:
            break
        time.sleep(0.2)
    return {"aborted": sum(r["aborted"] for r in replies), "seconds": seconds, "users_left": users}


def percentiles(samples_ns: list[int]) -> dict:
    if not samples_ns:
        return {"samples": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
    s = sorted(samples_ns)
    pick = lambda q: s[min(len(s) - 1, int(q * len(s)))] / 1e6  # noqa: E731
    return {"samples": len(s), "p50_ms": round(pick(0.50), 3), "p99_ms": round(pick(0.99), 3),
            "max_ms": round(s[-1] / 1e6, 3)}


def core_busy(cpu: int) -> float:
    """Seconds CPU `cpu` spent busy (anything but idle and iowait) since boot, from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{cpu} "):
                v = [int(x) for x in line.split()[1:]]
                return (sum(v[:8]) - v[3] - v[4]) / CLK_TCK
    return 0.0


class Sampler:
    """CPU of the server, of the load generator and of the server's core between two instants."""

    def __init__(self, server: Server, lg: LoadGen) -> None:
        self.server = server
        self.lg = lg

    def read(self) -> tuple[float, float, float]:
        lg_cpu = 0.0
        for pid in self.lg.pids:
            try:
                lg_cpu += proc_cpu(pid)
            except OSError:
                pass
        self.core = core_busy(SERVER_CPU)
        return time.monotonic(), self.server.cpu(), lg_cpu


def wait_settled(server: Server, seconds: float = 5.0) -> None:
    """Wait until the server's CPU stops moving (it finished its queued work)."""
    deadline = time.monotonic() + seconds
    last = server.cpu()
    while time.monotonic() < deadline:
        time.sleep(0.3)
        now = server.cpu()
        if now - last < 0.02:
            return
        last = now


# -- scenarios ------------------------------------------------------------------------------

def scenario_fanout(server: Server, lg: LoadGen, sz: Sizes, log: Callable, profile: bool) -> dict:
    n, nch = sz.fanout_clients, sz.fanout_channels
    gids = list(range(n))
    chan_of = {g: f"#f{g % nch}" for g in gids}
    probes = {g for g in gids if g // nch < sz.fanout_probes}
    reg = connect(lg, server, gids, probes, sz.paced_inflight)
    join(lg, {g: [chan_of[g]] for g in gids}, sz.paced_inflight)
    members = Counter(chan_of.values())
    wait_settled(server)
    drain(lg, None, 5)
    base_received = counts(lg)["received"]
    expected = base_received
    senders = [[(g, chan_of[g]) for g in ws] for ws in by_worker(lg, gids)]
    fanout = (sum(members.values()) - nch) / nch  # deliveries per message
    steps = []
    sampler = Sampler(server, lg)
    for target in sz.fanout_steps:
        rate = target / fanout
        start_at = time.monotonic() + 0.2
        args = [{"senders": s, "rate": rate / lg.n, "start_at": start_at,
                 "duration": sz.step_seconds, "record": True} for s in senders]
        for conn, a in zip(lg.conns, args):
            conn.send({"op": "fanout", "args": a})
        sleep_until(start_at)
        t0, cpu0, lgcpu0 = sampler.read()
        core0 = sampler.core
        sleep_until(start_at + sz.step_seconds)
        t1, cpu1, lgcpu1 = sampler.read()
        core1 = sampler.core
        replies = []
        for conn in lg.conns:
            if not conn.poll(sz.step_seconds + 30):
                raise TimeoutError("loadgen: no reply to fanout")
            reply = conn.recv()
            if not reply.get("ok"):
                raise RuntimeError(reply["error"])
            replies.append(reply)
        window = max(r["t_end"] for r in replies) - min(r["t_start"] for r in replies)
        sent = sum(r["sent"] for r in replies)
        by_chan: Counter = Counter()
        for r in replies:
            by_chan.update(r["sent_by_chan"])
        step_expected = sum(v * (members[c] - 1) for c, v in by_chan.items())
        expected += step_expected
        delivered = sum(r["recv_window"] for r in replies)
        lat = percentiles([x for r in replies for x in r["latencies"]])
        received, drain_s = drain(lg, expected, sz.drain_seconds)
        cpu = cpu1 - cpu0
        step = {
            "target_deliveries_per_s": target,
            "offered_msgs_per_s": round(sent / window),
            "offered_deliveries_per_s": round(step_expected / window),
            "delivered_per_s": round(delivered / window),
            "server_cpu_frac": round(cpu / (t1 - t0), 3),
            "loadgen_cpu_frac": round((lgcpu1 - lgcpu0) / (t1 - t0), 3),
            # Other processes on the server's core (the machine may be shared).
            "others_on_server_core_frac": round(max(0.0, (core1 - core0) - cpu) / (t1 - t0), 3),
            "cpu_us_per_delivery": round(cpu * 1e6 / delivered, 3) if delivered else None,
            "drain_s": round(drain_s, 3),
            "late_after_drain": max(0, expected - received),
            "send_backlog_bytes": sum(r["send_backlog"] for r in replies),
            **lat,
        }
        steps.append(step)
        log(f"  {server.kind} fanout {target:>9,}/s: delivered {step['delivered_per_s']:>9,}/s "
            f"cpu {step['server_cpu_frac']:.2f} others {step['others_on_server_core_frac']:.2f} "
            f"lg {step['loadgen_cpu_frac']:.2f} "
            f"p50 {step['p50_ms']} p99 {step['p99_ms']} ms drain {step['drain_s']}s")
        behind = (step["delivered_per_s"] < 0.9 * step["offered_deliveries_per_s"]
                  or drain_s > max(1.0, sz.step_seconds / 2) or expected > received)
        gen_bound = step["offered_deliveries_per_s"] < 0.85 * target
        step["behind"] = behind
        step["generator_bound"] = gen_bound
        if behind or gen_bound or not server.alive():
            break
    received, _ = drain(lg, expected, sz.drain_seconds * 2)
    final = counts(lg, seen=True)
    lost = expected - received
    # Every probe must have seen every sender of its channel up to its last message.
    sent_last = {(gid, chan): seq for gid, chan, seq in final["sent"]}
    seen = {(p, sid, chan): last for p, sid, chan, last in final["seen"]}
    probe_missing = 0
    for p in probes:
        for (sid, chan), last in sent_last.items():
            if chan == chan_of[p] and sid != p:
                probe_missing += last - seen.get((p, sid, chan), 0)
    profile_top = None
    if profile and server.kind == "words":
        best = max(steps, key=lambda s: s["delivered_per_s"])
        profile_top = profile_words(server, lg, senders, best["target_deliveries_per_s"] / fanout, log)
    sat = max(steps, key=lambda s: s["delivered_per_s"])
    # The highest rate delivered in full: the last step before falling behind. `sat` may be
    # a step that fell behind (delivered less than offered, with a growing backlog).
    kept_up = [s for s in steps if not s["behind"] and not s["generator_bound"]]
    sustained = max(kept_up, key=lambda s: s["delivered_per_s"]) if kept_up else None
    latency_step = steps[0]
    return {
        "clients": n, "channels": nch, "deliveries_per_message": fanout,
        "registrations_per_s": round(reg["per_second"]),
        "saturation_deliveries_per_s": sat["delivered_per_s"],
        "saturation_cpu_us_per_delivery": sat["cpu_us_per_delivery"],
        "saturation_server_cpu_frac": sat["server_cpu_frac"],
        # Deliveries per second of server CPU at saturation: what one whole core would
        # carry; less sensitive than the raw rate to other processes on the core.
        "saturation_deliveries_per_cpu_s": round(1e6 / sat["cpu_us_per_delivery"])
        if sat["cpu_us_per_delivery"] else None,
        "saturation_others_on_server_core_frac": sat["others_on_server_core_frac"],
        "sustained_deliveries_per_s": sustained["delivered_per_s"] if sustained else None,
        "sustained_cpu_us_per_delivery": sustained["cpu_us_per_delivery"] if sustained else None,
        "saturation_generator_bound": sat["generator_bound"] or (
            sat["server_cpu_frac"] < 0.85 and sat["loadgen_cpu_frac"] > 0.85),
        "latency_rate": latency_step["offered_deliveries_per_s"],
        "latency_p50_ms": latency_step["p50_ms"], "latency_p99_ms": latency_step["p99_ms"],
        "lost": lost, "probe_missing": probe_missing, "dups": final["dups"], "gaps": final["gaps"],
        "steps": steps, "profile": profile_top,
    }


def profile_words(server: Server, lg: LoadGen, senders: list, rate: float, log: Callable) -> dict | None:
    """Profile words with py-spy during one more step at `rate` messages a second."""
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        log("  py-spy not found: pip install py-spy (not a words dependency)")
        return None
    seconds = 6.0
    out = server.workdir / "profile.txt"
    spy = subprocess.Popen([pyspy, "record", "--pid", str(server.pid), "--duration", str(int(seconds)),
                            "--rate", "250", "--format", "raw", "--nonblocking", "--output", str(out)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        start_at = time.monotonic() + 0.2
        lg.call("fanout", [{"senders": s, "rate": rate / lg.n, "start_at": start_at,
                            "duration": seconds - 1.0, "record": False} for s in senders], seconds + 30)
        spy.wait(seconds + 30)
    finally:
        if spy.poll() is None:
            spy.kill()
            spy.wait()
    drain(lg, None, 10)
    if not out.exists():
        log(f"  py-spy failed: {spy.stderr.read().decode()[-300:] if spy.stderr else ''}")
        return None
    return summarize_profile(out)


def summarize_profile(path: Path, top: int = 15) -> dict:
    own: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        count = int(n)
        total += count
        frames = stack.split(";")
        short = [_short_frame(f) for f in frames]
        own[short[-1]] += count
        for f in set(short):
            inclusive[f] += count
    pct = lambda c: round(100.0 * c / total, 1) if total else 0.0  # noqa: E731
    return {
        "samples": total,
        "self": [(f, pct(c)) for f, c in own.most_common(top)],
        "inclusive": [(f, pct(c)) for f, c in inclusive.most_common(top + 10)],
    }


def _short_frame(frame: str) -> str:
    # py-spy raw frames: "function (path/to/file.py:line)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file, _, line = where.rpartition(":")
    for marker in ("/words/", "/asyncio/", "/lib/python3"):
        if marker in file:
            file = file[file.index(marker) + 1:]
            break
    return f"{name} ({file}:{line})" if file else name


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen backlog was full."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return 0
    for head, values in zip(lines[::2], lines[1::2]):
        if head.startswith("TcpExt:"):
            table = dict(zip(head.split()[1:], values.split()[1:]))
            return int(table.get("ListenOverflows", 0))
    return 0


def scenario_storm(server: Server, lg: LoadGen, sz: Sizes, log: Callable, profile: bool) -> dict:
    """Two storms of n clients: paced (a few registering at once, under any listen
    backlog: the server's own cost) and burst (sz.inflight at once: the backlog shows)."""
    n = sz.storm_clients
    gids = list(range(n))
    nch = max(1, n // sz.storm_channel_size)
    rss0 = server.rss_kb()
    cpu0 = server.cpu()
    reg = connect(lg, server, gids, set(), sz.paced_inflight)
    cpu1 = server.cpu()
    log(f"  {server.kind} storm paced: {reg['registered']} registered in {reg['seconds']:.2f}s")
    j = join(lg, {g: [f"#s{g % nch}"] for g in gids}, sz.paced_inflight)
    cpu2 = server.cpu()
    wait_settled(server)
    rss1 = server.rss_kb()
    q = quit_all(lg, server)
    wait_settled(server)
    rss2 = server.rss_kb()
    overflows0 = listen_overflows()
    burst_gids = list(range(n, 2 * n))
    burst = connect(lg, server, burst_gids, set(), sz.inflight, allow_failures=True)
    overflows = listen_overflows() - overflows0
    log(f"  {server.kind} storm burst: {burst['registered']} registered in {burst['seconds']:.2f}s, "
        f"{overflows} listen-queue overflows, {burst['failed']} failed {burst['failures']}")
    q2 = quit_all(lg, server)
    hashed: dict[str, Any] = {}
    if server.kind.startswith("words"):
        # Logins checked against a scrypt hash (off the loop, a bounded number at once).
        hashed_gids = list(range(2 * n, 2 * n + sz.hashed_clients))
        cpu3 = server.cpu()
        h = connect(lg, server, hashed_gids, set(), sz.paced_inflight,
                    password=f"{BENCH_ACCOUNT}:{BENCH_PASSWORD}")
        cpu4 = server.cpu()
        log(f"  {server.kind} storm with hashed passwords: {h['registered']} registered in "
            f"{h['seconds']:.2f}s")
        quit_all(lg, server)
        hashed = {"hashed_clients": sz.hashed_clients,
                  "hashed_registrations_per_s": round(h["per_second"], 1),
                  "hashed_cpu_us_per_client": round((cpu4 - cpu3) * 1e6 / sz.hashed_clients)}
    return {**hashed,
        "clients": n, "channels": nch, "paced_inflight": sz.paced_inflight,
        "burst_inflight": sz.inflight,
        "registrations_per_s": round(reg["per_second"]),
        "register_seconds": round(reg["seconds"], 3),
        "register_cpu_us_per_client": round((cpu1 - cpu0) * 1e6 / n),
        "joins_per_s": round(j["per_second"]),
        "join_cpu_us_per_client": round((cpu2 - cpu1) * 1e6 / n),
        "burst_registrations_per_s": round(burst["per_second"]),
        "burst_listen_overflows": overflows, "burst_failed": burst["failed"],
        "rss_baseline_kb": rss0, "rss_joined_kb": rss1, "rss_after_leave_kb": rss2,
        "kb_per_client": round((rss1 - rss0) / n, 2),
        "quit_seconds": round(q["seconds"], 3),
        "users_left": max(q["users_left"] or 0, q2["users_left"] or 0) if server.counts_users else None,
    }


def scenario_idle(server: Server, lg: LoadGen, sz: Sizes, log: Callable, profile: bool,
                  size: int = 1000) -> dict:
    n = size
    gids = list(range(n))
    nch = max(1, n // sz.idle_channel_size)
    rss_base = server.rss_kb()
    rounds = []
    for rnd in range(2):
        before, blocks_before = server.rss_kb(), server.heap_blocks()
        connect(lg, server, gids, set(), sz.paced_inflight)
        join(lg, {g: [f"#i{g % nch}"] for g in gids}, sz.paced_inflight)
        wait_settled(server)
        time.sleep(0.5)
        joined, blocks_joined = server.rss_kb(), server.heap_blocks()
        q = quit_all(lg, server)
        wait_settled(server)
        time.sleep(1.5)  # a once-a-second sweep of words runs meanwhile (it trims the heap)
        after, blocks_after = server.rss_kb(), server.heap_blocks()
        rounds.append({"rss_before_kb": before, "rss_joined_kb": joined, "rss_after_kb": after,
                       "heap_blocks_before": blocks_before, "heap_blocks_joined": blocks_joined,
                       "heap_blocks_after": blocks_after, "users_left": q["users_left"]})
        log(f"  {server.kind} idle {n} round {rnd + 1}: base {before} KB, joined {joined} KB, "
            f"after leave {after} KB" + (f"; live heap blocks {blocks_before} -> {blocks_joined} "
                                         f"-> {blocks_after}" if blocks_before is not None else ""))
    first, second = rounds
    heap: dict[str, Any] = {}
    if first["heap_blocks_before"]:  # None for the others; 0 under PYTHONMALLOC=malloc
        # words only: how much of what the clients added is still live after they left.
        # RSS, the figure compared between servers, also holds what the allocator keeps.
        added = max(1, first["heap_blocks_joined"] - first["heap_blocks_before"])
        heap = {"heap_blocks_per_client": round(added / n, 1),
                "heap_retained_after_leave_frac": round(
                    (first["heap_blocks_after"] - first["heap_blocks_before"]) / added, 3)}
    return {
        "clients": n, "channels": nch, "rss_baseline_kb": rss_base,
        "kb_per_client": round((first["rss_joined_kb"] - first["rss_before_kb"]) / n, 2),
        "retained_after_leave_kb": first["rss_after_kb"] - rss_base,
        "retained_after_leave_frac": round(
            (first["rss_after_kb"] - rss_base) / max(1, first["rss_joined_kb"] - rss_base), 3),
        "second_round_growth_kb": second["rss_after_kb"] - first["rss_after_kb"],
        **heap,
        "rounds": rounds,
    }


def scenario_mix(server: Server, lg: LoadGen, sz: Sizes, log: Callable, profile: bool) -> dict:
    import random

    rng = random.Random(9)
    n, nch = sz.mix_clients, sz.mix_channels
    weights = [1 / (r + 1) ** 0.9 for r in range(nch)]
    scale = n * sz.mix_memberships / sum(weights)
    sizes = [max(3, min(n, round(w * scale))) for w in weights]
    chans = [f"#m{c}" for c in range(nch)]
    members = {chan: rng.sample(range(n), size) for chan, size in zip(chans, sizes)}
    owner_of = {chan: m[0] for chan, m in members.items()}
    probe_of = {chan: m[1] for chan, m in members.items()}
    probes = set(probe_of.values())
    gids = list(range(n))
    connect(lg, server, gids, probes, sz.paced_inflight)
    # The owner joins first and holds +o, so it may set the topic (+t or not).
    first: dict[int, list[str]] = defaultdict(list)
    rest: dict[int, list[str]] = defaultdict(list)
    for chan, m in members.items():
        first[m[0]].append(chan)
        for g in m[1:]:
            rest[g].append(chan)
    join(lg, dict(first), sz.paced_inflight)
    join(lg, dict(rest), sz.paced_inflight)
    wait_settled(server)
    drain(lg, None, 5)
    owners_per_worker: list[dict] = [{} for _ in range(lg.n)]
    for chan, g in owner_of.items():
        owners_per_worker[g % lg.n].setdefault(str(g), chan)
    op_weights = {"message": 0.80, "joinpart": 0.08, "nick": 0.06, "topic": 0.06}
    sampler = Sampler(server, lg)
    start_at = time.monotonic() + 0.3
    for wid, conn in enumerate(lg.conns):
        conn.send({"op": "mix", "args": {
            "rate": sz.mix_rate / lg.n, "start_at": start_at, "duration": sz.mix_seconds,
            "weights": op_weights, "roam": chans, "owners": owners_per_worker[wid], "seed": wid}})
    sleep_until(start_at)
    t0, cpu0, lg0 = sampler.read()
    sleep_until(start_at + sz.mix_seconds)
    t1, cpu1, lg1 = sampler.read()
    replies = []
    for conn in lg.conns:
        if not conn.poll(sz.mix_seconds + 30):
            raise TimeoutError("loadgen: no reply to mix")
        reply = conn.recv()
        if not reply.get("ok"):
            raise RuntimeError(reply["error"])
        replies.append(reply)
    window = max(r["t_end"] for r in replies) - min(r["t_start"] for r in replies)
    delivered = sum(r["recv_window"] for r in replies)
    ops: Counter = Counter()
    for r in replies:
        ops.update(r["counts"])
    lat = percentiles([x for r in replies for x in r["latencies"]])
    drain(lg, None, sz.drain_seconds)
    final = counts(lg, seen=True)
    sent_last = {(gid, chan): seq for gid, chan, seq in final["sent"]}
    seen = {(p, sid, chan): last for p, sid, chan, last in final["seen"]}
    probe_missing = 0
    for chan, p in probe_of.items():
        for (sid, c), last in sent_last.items():
            if c == chan and sid != p:
                probe_missing += max(0, last - seen.get((p, sid, c), 0))
    cpu = cpu1 - cpu0
    result = {
        "clients": n, "channels": nch, "channel_sizes": [min(sizes), round(statistics.mean(sizes)), max(sizes)],
        "ops_per_s": round(sum(r["ops"] for r in replies) / window),
        "ops": dict(ops),
        "deliveries_per_s": round(delivered / window),
        "server_cpu_frac": round(cpu / (t1 - t0), 3),
        "loadgen_cpu_frac": round((lg1 - lg0) / (t1 - t0), 3),
        "cpu_us_per_delivery": round(cpu * 1e6 / delivered, 3) if delivered else None,
        "latency_p50_ms": lat["p50_ms"], "latency_p99_ms": lat["p99_ms"], "latency_samples": lat["samples"],
        "probe_missing": probe_missing, "dups": final["dups"], "gaps": final["gaps"],
        "errors": dict(final["errors"]), "events": {k: v for k, v in final["events"].items()},
    }
    log(f"  {server.kind} mix: {result['ops_per_s']} ops/s, {result['deliveries_per_s']} deliveries/s, "
        f"cpu {result['server_cpu_frac']}, p99 {result['latency_p99_ms']} ms, missing {probe_missing}")
    return result


# -- the run ---------------------------------------------------------------------------------

def machine() -> dict:
    model = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ngircd = shutil.which("ngircd") or shutil.which("ngircd", path="/usr/sbin")
    version = ""
    if ngircd:
        out = subprocess.run([ngircd, "--version"], capture_output=True, text=True, timeout=10).stdout
        version = out.splitlines()[0] if out else ""
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"words_commit": commit, "nproc": os.cpu_count(), "cpu_model": model, "python": platform.python_version(),
            "kernel": platform.release(), "ngircd": version, "loadavg_at_start": [round(x, 2) for x in load]}


def run_one(kind: str, scenario: str, sz: Sizes, workers: int, cpus: list[int] | None,
            log: Callable, profile: bool, **kw) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    server = Server(kind, workdir)
    lg = None
    try:
        server.start()
        lg = LoadGen(workers, cpus)
        fn = {"fanout": scenario_fanout, "storm": scenario_storm, "idle": scenario_idle,
              "mix": scenario_mix}[scenario]
        result = fn(server, lg, sz, log, profile, **kw)
        result["server_alive"] = server.alive()
        return result
    except Exception as exc:
        log(f"  {kind} {scenario} failed: {exc}")
        tail = server.log_path.read_text(errors="replace")[-1500:] if server.log_path.exists() else ""
        return {"error": f"{type(exc).__name__}: {exc}", "server_log_tail": tail}
    finally:
        if lg is not None:
            lg.close()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# figure rows: (scenario key, result key, label, better: "high"/"low"/None, format)
ROWS = [
    ("fanout", "saturation_deliveries_per_s", "fan-out deliveries/s at saturation", "high", "{:,.0f}"),
    ("fanout", "saturation_cpu_us_per_delivery", "fan-out server CPU µs per delivery", "low", "{:.3f}"),
    ("fanout", "sustained_deliveries_per_s", "fan-out deliveries/s sustained (last step kept up with)", "high", "{:,.0f}"),
    ("fanout", "sustained_cpu_us_per_delivery", "fan-out server CPU µs per delivery, sustained", "low", "{:.3f}"),
    ("fanout", "saturation_server_cpu_frac", "fan-out server CPU share at saturation", None, "{:.2f}"),
    ("fanout", "saturation_others_on_server_core_frac", "fan-out other processes' share of the server core", None, "{:.2f}"),
    ("fanout", "saturation_deliveries_per_cpu_s", "fan-out deliveries per server CPU-second", "high", "{:,.0f}"),
    ("fanout", "latency_p50_ms", "fan-out p50 latency ms @latency rate", "low", "{:.2f}"),
    ("fanout", "latency_p99_ms", "fan-out p99 latency ms @latency rate", "low", "{:.2f}"),
    ("fanout", "lost", "fan-out lost messages", "low", "{:,}"),
    ("fanout", "probe_missing", "fan-out probe sequence gaps", "low", "{:,}"),
    ("storm", "registrations_per_s", "storm registrations/s, 8 at once", "high", "{:,.0f}"),
    ("storm", "register_cpu_us_per_client", "storm server CPU µs per registration", "low", "{:,}"),
    ("storm", "joins_per_s", "storm joins/s", "high", "{:,.0f}"),
    ("storm", "burst_registrations_per_s", "storm registrations/s, burst of 200 at once", "high", "{:,.0f}"),
    ("storm", "burst_listen_overflows", "storm burst: listen-queue overflows", "low", "{:,}"),
    ("storm", "burst_failed", "storm burst: connections refused/reset", "low", "{:,}"),
    ("storm", "kb_per_client", "storm KB per joined client", "low", "{:.2f}"),
    ("storm", "hashed_registrations_per_s", "storm registrations/s with hashed passwords (PASS)", "high",
     "{:,.1f}"),
    ("storm", "hashed_cpu_us_per_client", "storm server CPU µs per hashed-password login", "low", "{:,}"),
    ("storm", "users_left", "storm users left after QUIT (incl. probe)", None, "{}"),
    ("idle", "kb_per_client", "idle KB per client", "low", "{:.2f}"),
    ("idle", "retained_after_leave_kb", "idle KB retained after all left", "low", "{:,}"),
    ("idle", "second_round_growth_kb", "idle KB growth over a 2nd round", "low", "{:,}"),
    ("idle", "heap_blocks_per_client", "idle live heap blocks per client (words' metric)", None, "{:.1f}"),
    ("idle", "heap_retained_after_leave_frac", "idle live heap still held after all left (share)", "low",
     "{:.3f}"),
    ("mix", "ops_per_s", "mix operations/s (offered)", None, "{:,}"),
    ("mix", "deliveries_per_s", "mix deliveries/s", None, "{:,}"),
    ("mix", "server_cpu_frac", "mix server CPU share", "low", "{:.3f}"),
    ("mix", "cpu_us_per_delivery", "mix server CPU µs per delivery", "low", "{:.3f}"),
    ("mix", "latency_p50_ms", "mix p50 latency ms", "low", "{:.2f}"),
    ("mix", "latency_p99_ms", "mix p99 latency ms", "low", "{:.2f}"),
    ("mix", "probe_missing", "mix lost (probe sequence gaps)", "low", "{:,}"),
]


def table_rows(results: dict, servers: list[str]) -> list[list[str]]:
    rows = []
    for scen_key, key, label, _better, fmt in ROWS:
        for scen in sorted(k for k in results if k == scen_key or k.startswith(scen_key + "@")):
            values = []
            for s in servers:
                v = results[scen].get(s, {}).get(key)
                values.append(v)
            if all(v is None for v in values):
                continue
            suffix = scen[len(scen_key):].replace("@", " @")
            cells = [fmt.format(v) if isinstance(v, (int, float)) else ("error" if "error" in results[scen].get(s, {}) else "-")
                     for v, s in zip(values, servers)]
            ratio = "-"
            if len(servers) >= 2 and isinstance(values[0], (int, float)) and isinstance(values[1], (int, float)) and values[1]:
                ratio = f"{values[0] / values[1]:.2f}"
            rows.append([label + suffix, *cells, ratio])
    return rows


def print_table(results: dict, servers: list[str], title: str) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("figure")
    for s in servers:
        table.add_column(s, justify="right")
    table.add_column(f"{servers[0]}/{servers[1]}" if len(servers) > 1 else "ratio", justify="right")
    rows = table_rows(results, servers)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    # The same table as Markdown, for bench/README.md.
    head = ["figure", *servers, f"{servers[0]}/{servers[1]}" if len(servers) > 1 else "ratio"]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(md)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default=",".join(SCENARIOS),
                        help="comma-separated: " + ", ".join(SCENARIOS) + " (default: all)")
    parser.add_argument("--servers", default=",".join(DEFAULT_SERVERS),
                        help="comma-separated: " + ", ".join(SERVERS) + " (default: words,ngircd)")
    parser.add_argument("--quick", action="store_true", help="small numbers, a smoke run (< 60 s)")
    parser.add_argument("--workers", type=int, default=0, help="load generator processes (default: auto)")
    parser.add_argument("--profile", action="store_true", help="py-spy profile of words during fan-out")
    parser.add_argument("--output", help="JSON path (default: bench/results/<time>.json)")
    args = parser.parse_args(argv)

    scenarios = [s.strip() for s in args.scenario.split(",") if s.strip()]
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    for s in scenarios:
        if s not in SCENARIOS:
            parser.error(f"unknown scenario {s!r}")
    for s in servers:
        if s not in SERVERS:
            parser.error(f"unknown server {s!r}")
    sz = QUICK if args.quick else Sizes()
    nofile = raise_nofile()
    need = max(sz.idle_sizes + (sz.storm_clients,)) + 100
    if nofile < need:
        print(f"warning: open-files limit {nofile} < {need}: the big scenarios will fail", file=sys.stderr)
    ncpu = os.cpu_count() or 1
    cpus = [c for c in sorted(os.sched_getaffinity(0)) if c != SERVER_CPU] or None
    workers = args.workers or max(2, min(8, len(cpus or [0]) * 2))
    if "ngircd" in servers:
        ensure_system_package("ngircd", "ngircd")

    started = time.time()
    info = machine()
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    log(f"machine: {info['nproc']} CPUs, {info['cpu_model']}, Python {info['python']}, "
        f"load {info['loadavg_at_start']}; server on CPU {SERVER_CPU}, {workers} loadgen workers on {cpus}")
    results: dict[str, dict[str, Any]] = {}
    for scenario in scenarios:
        variants = [(scenario, {})]
        if scenario == "idle":
            variants = [(f"idle@{n}", {"size": n}) for n in sz.idle_sizes]
        for key, kw in variants:
            results[key] = {}
            for kind in servers:
                log(f"{key}: {kind} ...")
                t0 = time.monotonic()
                results[key][kind] = run_one(kind, scenario, sz, workers, cpus, log, args.profile, **kw)
                results[key][kind]["wall_seconds"] = round(time.monotonic() - t0, 1)
    title = (f"words vs ngIRCd — {info['nproc']} CPUs ({info['cpu_model']}), Python {info['python']}"
             f"{' — quick' if args.quick else ''}")
    markdown = print_table(results, servers, title)
    out = Path(args.output) if args.output else RESULTS / (
        time.strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "") + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    doc = {"started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
           "seconds": round(time.time() - started, 1), "quick": args.quick, "machine": info,
           "workers": workers, "loadgen_cpus": cpus, "server_cpu": SERVER_CPU,
           "sizes": {k: v for k, v in vars(sz).items()}, "results": results, "table_markdown": markdown}
    out.write_text(json.dumps(doc, indent=1, default=str))
    print(f"wrote {out} ({doc['seconds']} s)")
    failed = [f"{k}/{s}" for k, r in results.items() for s, v in r.items() if "error" in v]
    lost = [f"{k}/{s}" for k, r in results.items() for s, v in r.items()
            if (v.get("lost") or 0) > 0 or (v.get("probe_missing") or 0) > 0]
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    if lost:
        print("LOST MESSAGES: " + ", ".join(lost), file=sys.stderr)
    return 1 if failed or lost else 0


if __name__ == "__main__":
    sys.exit(main())
