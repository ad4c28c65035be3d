"""The cluster fan-out benchmark: the same fan-out against 1, 2 and 3 words nodes.

    python -m bench.cluster [--nodes 1,2,3] [--quick]

For each node count it starts a redis-server and a PostgreSQL (Debian's
packages, installed when missing, as the tests do), then that many
`words serve` nodes in cluster mode on free loopback ports, a fresh database
and a fresh key prefix each time (services and history off: it measures
the fan-out, not PostgreSQL). The fan-out clients are spread round-robin
over the nodes (client i on node i mod N), so a channel's members sit on
every node and each message crosses Redis once per other node. The offered
rate rises in steps until delivery falls behind, as in `bench.run`'s fanout.

Nothing is pinned: nodes, Redis and the load generator share the machine's
cores, and the table says how many there were. The figures that matter are
the deliveries per second at saturation, and the CPU (all nodes plus Redis)
per delivery: what a delivery costs the whole cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from bench.loadgen import LoadGen, raise_nofile
from bench.run import (
    HOST,
    QUICK,
    REPO,
    RESULTS,
    Sizes,
    by_worker,
    connect,
    counts,
    drain,
    free_port,
    join,
    machine,
    percentiles,
    proc_cpu,
    wait_for_port,
)

NODE_CONFIG = """\
server:
  name: irc.bench.local
  network: Bench
  motd: "bench"
listen:
  - {host}:{port}
realm:
  name: bench.local
  database: {database}
auth:
  - anonymous
services:
  enabled: false
history:
  enabled: false
limits:
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
cluster:
  redis: {redis}
  node: {node}
  prefix: {prefix}
  heartbeat: 1
  dead_after: 30
"""

STEPS = (50_000, 100_000, 200_000, 300_000, 400_000, 600_000, 800_000, 1_000_000,
         1_500_000, 2_000_000, 3_000_000)
QUICK_STEPS = (50_000, 200_000, 800_000)


class Node:
    """One `words serve` node of the benchmark cluster (the facade bench.run's connect wants)."""

    def __init__(self, name: str, workdir: Path, database: str, redis: str, prefix: str) -> None:
        self.kind = f"words-{name}"
        self.login_password = None  # bench.run's connect() asks (clients send no PASS)
        self.port = free_port()
        path = workdir / f"{name}.yaml"
        path.write_text(NODE_CONFIG.format(host=HOST, port=self.port, database=database,
                                           redis=redis, node=name, prefix=prefix))
        self.log_path = workdir / f"{name}.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(REPO)}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "words", "serve", "--config", str(path)], cwd=REPO,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                preexec_fn=raise_nofile,  # noqa: PLW1509 - the runner starts no threads
            )

    def wait(self) -> None:
        wait_for_port(self.port, self.proc, timeout=60)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def cpu(self) -> float:
        return proc_cpu(self.proc.pid)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def _support():
    """tests/support.py starts PostgreSQL and redis-server the way the tests do."""
    sys.path.insert(0, str(REPO / "tests"))
    import support

    return support


def wait_replicated(redis_url: str, prefix: str, nodes: int, users: int, timeout: float = 120) -> None:
    """Until every node's heartbeat reports every user (each node holds a full replica)."""
    import asyncio

    from words.cluster.status import read_nodes

    deadline = time.monotonic() + timeout
    while True:
        info = asyncio.run(read_nodes(redis_url, prefix))
        if len(info) == nodes and all(n["users"] >= users for n in info):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nodes did not see all {users} users: {info}")
        time.sleep(0.5)


def run_cluster(n_nodes: int, sz: Sizes, steps: tuple, redis_url: str, redis_pid: int,
                pg_url: str, workers: int, log) -> dict[str, Any]:
    support = _support()
    database = support.fresh_postgres_database(pg_url)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-cluster{n_nodes}-"))
    nodes: list[Node] = []
    lg = None
    try:
        nodes.append(Node("n1", workdir, database, redis_url, prefix))
        nodes[0].wait()  # the first node creates the schema alone
        nodes += [Node(f"n{i + 1}", workdir, database, redis_url, prefix) for i in range(1, n_nodes)]
        for node in nodes:
            node.wait()
        lg = LoadGen(workers, None)
        n, nch = sz.fanout_clients, sz.fanout_channels
        gids = list(range(n))
        chan_of = {g: f"#f{g % nch}" for g in gids}
        probes = {g for g in gids if g // nch < sz.fanout_probes}
        for i, node in enumerate(nodes):
            mine = [g for g in gids if g % n_nodes == i]
            connect(lg, node, mine, probes & set(mine), sz.paced_inflight)
        join(lg, {g: [chan_of[g]] for g in gids}, sz.paced_inflight)
        wait_replicated(redis_url, prefix, n_nodes, n)
        time.sleep(2)  # the joins' last events reach every node
        drain(lg, None, 5)
        members = Counter(chan_of.values())
        expected = counts(lg)["received"]
        senders = [[(g, chan_of[g]) for g in ws] for ws in by_worker(lg, gids)]
        fanout = (sum(members.values()) - nch) / nch
        pids = [node.proc.pid for node in nodes]
        results = []
        for target in steps:
            rate = target / fanout
            start_at = time.monotonic() + 0.2
            for conn, s in zip(lg.conns, senders):
                conn.send({"op": "fanout", "args": {"senders": s, "rate": rate / lg.n,
                                                     "start_at": start_at,
                                                     "duration": sz.step_seconds, "record": True}})
            while time.monotonic() < start_at:
                time.sleep(0.01)
            t0 = time.monotonic()
            cpu0 = [proc_cpu(p) for p in pids]
            redis0 = proc_cpu(redis_pid)
            time.sleep(sz.step_seconds)
            t1 = time.monotonic()
            cpu1 = [proc_cpu(p) for p in pids]
            redis1 = proc_cpu(redis_pid)
            replies = []
            for conn in lg.conns:
                if not conn.poll(sz.step_seconds + 30):
                    raise TimeoutError("loadgen: no reply to fanout")
                reply = conn.recv()
                if not reply.get("ok"):
                    raise RuntimeError(reply["error"])
                replies.append(reply)
            window = max(r["t_end"] for r in replies) - min(r["t_start"] for r in replies)
            by_chan: Counter = Counter()
            for r in replies:
                by_chan.update(r["sent_by_chan"])
            step_expected = sum(v * (members[c] - 1) for c, v in by_chan.items())
            expected += step_expected
            delivered = sum(r["recv_window"] for r in replies)
            received, drain_s = drain(lg, expected, sz.drain_seconds)
            node_cpu = sum(b - a for a, b in zip(cpu0, cpu1))
            redis_cpu = redis1 - redis0
            lat = percentiles([x for r in replies for x in r["latencies"]])
            step = {
                "target_deliveries_per_s": target,
                "offered_deliveries_per_s": round(step_expected / window),
                "delivered_per_s": round(delivered / window),
                "nodes_cpu_frac": round(node_cpu / (t1 - t0), 3),
                "per_node_cpu_frac": [round((b - a) / (t1 - t0), 3) for a, b in zip(cpu0, cpu1)],
                "redis_cpu_frac": round(redis_cpu / (t1 - t0), 3),
                "cluster_cpu_us_per_delivery": round((node_cpu + redis_cpu) * 1e6 / delivered, 3)
                if delivered else None,
                "drain_s": round(drain_s, 3),
                "late_after_drain": max(0, expected - received),
                **lat,
            }
            results.append(step)
            log(f"  {n_nodes} node(s) {target:>9,}/s: delivered {step['delivered_per_s']:>9,}/s "
                f"nodes cpu {step['nodes_cpu_frac']:.2f} redis {step['redis_cpu_frac']:.2f} "
                f"p50 {step['p50_ms']} p99 {step['p99_ms']} ms drain {step['drain_s']}s")
            behind = (step["delivered_per_s"] < 0.9 * step["offered_deliveries_per_s"]
                      or drain_s > max(1.0, sz.step_seconds / 2) or expected > received)
            step["behind"] = behind
            if behind or not all(node.alive() for node in nodes):
                break
        received, _ = drain(lg, expected, sz.drain_seconds * 2)
        final = counts(lg)
        sat = max(results, key=lambda s: s["delivered_per_s"])
        return {
            "nodes": n_nodes, "clients": n, "channels": nch, "deliveries_per_message": fanout,
            "saturation_deliveries_per_s": sat["delivered_per_s"],
            "saturation_cluster_cpu_us_per_delivery": sat["cluster_cpu_us_per_delivery"],
            "saturation_nodes_cpu_frac": sat["nodes_cpu_frac"],
            "saturation_redis_cpu_frac": sat["redis_cpu_frac"],
            "latency_p50_ms": results[0]["p50_ms"], "latency_p99_ms": results[0]["p99_ms"],
            "latency_rate": results[0]["offered_deliveries_per_s"],
            "lost": expected - received, "dups": final["dups"], "gaps": final["gaps"],
            "steps": results,
        }
    except Exception as exc:  # noqa: BLE001 - one node count failing keeps the others' figures
        log(f"  {n_nodes} node(s) failed: {exc}")
        tails = {node.kind: node.log_path.read_text(errors="replace")[-1500:] for node in nodes
                 if node.log_path.exists()}
        return {"nodes": n_nodes, "error": f"{type(exc).__name__}: {exc}", "logs": tails}
    finally:
        if lg is not None:
            lg.close()
        for node in nodes:
            node.stop()


ROWS = [
    ("saturation_deliveries_per_s", "fan-out deliveries/s at saturation", "{:,.0f}"),
    ("saturation_cluster_cpu_us_per_delivery", "CPU µs per delivery (all nodes + Redis)", "{:.3f}"),
    ("saturation_nodes_cpu_frac", "nodes' CPU (cores) at saturation", "{:.2f}"),
    ("saturation_redis_cpu_frac", "Redis CPU (cores) at saturation", "{:.2f}"),
    ("latency_p50_ms", "p50 latency ms at the first step", "{:.2f}"),
    ("latency_p99_ms", "p99 latency ms at the first step", "{:.2f}"),
    ("lost", "lost messages", "{:,}"),
    ("gaps", "probe sequence gaps", "{:,}"),
]


# The first row of the table: the cores every node count ran on.
CORES_LABEL = "cores on the machine (shared by nodes, Redis, load generator)"


def table(results: list[dict], title: str, cores: int) -> str:
    """The results as a rich table (printed) and a markdown one (returned).

    Its first row is the machine's core count: nothing is pinned, so every node count
    shares those cores with Redis and the load generator.
    """
    from rich.console import Console
    from rich.table import Table

    heads = [f"{r['nodes']} node{'s' if r['nodes'] > 1 else ''}" for r in results]
    t = Table(title=title)
    t.add_column("figure")
    for h in heads:
        t.add_column(h, justify="right")
    rows = [[CORES_LABEL, *[str(cores)] * len(results)]]
    t.add_row(*rows[0])
    for key, label, fmt in ROWS:
        cells = []
        for r in results:
            v = r.get(key)
            cells.append(fmt.format(v) if isinstance(v, (int, float)) else ("error" if "error" in r else "-"))
        rows.append([label, *cells])
        t.add_row(label, *cells)
    Console().print(t)
    md = ["| figure | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
    md += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(md)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("--nodes", default="1,2,3", help="node counts to run (default: 1,2,3)")
    parser.add_argument("--quick", action="store_true", help="small numbers, a smoke run")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes (default 2)")
    parser.add_argument("--output", help="JSON path (default: bench/results/cluster-<time>.json)")
    args = parser.parse_args(argv)
    counts_wanted = [int(x) for x in args.nodes.split(",") if x.strip()]
    sz = QUICK if args.quick else Sizes()
    steps = QUICK_STEPS if args.quick else STEPS
    raise_nofile()
    support = _support()
    log = lambda msg: print(msg, flush=True)
    info = machine()
    log(f"machine: {info['nproc']} CPUs, {info['cpu_model']}, Python {info['python']}, "
        f"load {info['loadavg_at_start']}; nodes, Redis and {args.workers} loadgen workers unpinned")
    redis = support.start_redis()
    pg = support.start_postgres()
    results = []
    started = time.time()
    try:
        for n_nodes in counts_wanted:
            results.append(run_cluster(n_nodes, sz, steps, redis.url, redis.proc.pid, pg.url,
                                       args.workers, log))
    finally:
        redis.stop()
        pg.stop()
    title = (f"words cluster fan-out, {sz.fanout_clients} clients in {sz.fanout_channels} channels, "
             f"{info['nproc']} CPUs ({info['cpu_model']})")
    md = table(results, title, info["nproc"])
    out = Path(args.output) if args.output else RESULTS / (
        time.strftime("cluster-%Y%m%d-%H%M%S", time.gmtime(started)) + ("-quick" if args.quick else "") + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": info, "quick": args.quick, "results": results,
                               "markdown": md}, indent=2))
    log(f"results: {out}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
