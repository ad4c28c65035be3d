"""Fixtures for cluster tests: words nodes as subprocesses on one Redis and one PostgreSQL.

Each test gets its own database and its own key prefix, so tests never see
each other's nodes on the session's Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml
from support import REPO, free_port, fresh_postgres_database, wait_for_port


class Node:
    """One `words serve` process of a test cluster; its log is in `log_path`."""

    def __init__(self, name: str, config_path: Path, port: int, log_path: Path,
                 args: tuple[str, ...] = ()) -> None:
        self.name = name
        self.config_path = config_path
        self.port = port
        self.log_path = log_path
        self.args = args  # more of `words serve`'s command line
        self.proc: subprocess.Popen | None = None

    def launch(self) -> None:
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "words", "serve", "--config", str(self.config_path),
                 *self.args],
                stdout=log, stderr=subprocess.STDOUT, cwd=REPO,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Listening means joined: a node loads the cluster's snapshot before it listens.

        Its own log says so (with SO_REUSEPORT another node may hold the port already).
        """
        assert self.proc is not None
        try:
            wait_for_port(self.port, proc=self.proc, timeout=timeout)
            self.wait_for_log(f"listening on 127.0.0.1:{self.port}", timeout)
        except (RuntimeError, TimeoutError) as exc:
            raise AssertionError(f"node {self.name} did not start: {exc}\n{self.log()}") from None

    def wait_for_log(self, text: str, timeout: float = 10.0) -> None:
        """Until `text` is in the node's log (RuntimeError if it exits or time runs out)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while text not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"no {text!r} in its log")
            time.sleep(0.02)  # polling the log, with a deadline

    def start(self) -> None:
        self.launch()
        self.wait_ready()

    def kill(self) -> None:
        """SIGKILL: no goodbye, no cleanup; the others must notice the missing heartbeat."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: frozen, heartbeat included, until resume()."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def cluster_settings(redis_url, postgres_url) -> dict:
    """What the nodes of one test share: a fresh database, the Redis, a key prefix."""
    return {
        "database": fresh_postgres_database(postgres_url),
        "redis": redis_url,
        "prefix": f"test-{uuid.uuid4().hex[:10]}",
    }


@pytest.fixture
def start_cluster(cluster_settings, tmp_path):
    """`start_cluster("a", "b", "c", heartbeat=0.5, dead_after=2.0)`: nodes started in parallel.

    Each node's config is `<tmp>/<name>.yaml`; `words cluster status --config` reads it.
    With `switch="--cluster"` the config's cluster section says `enabled: false` and the
    command line turns it on; with `switch="--node"` the section names no node either
    (`--node NAME` does).
    """
    nodes: list[Node] = []

    def make(name: str, heartbeat: float, dead_after: float, port: int, reuse_port: bool,
             switch: str | None, **extra) -> Node:
        config = {
            "server": {"name": "irc.test", "network": "TestNet"},
            "listen": [f"127.0.0.1:{port}"],
            "realm": {"database": cluster_settings["database"]},
            "hashing": {"ln": 4},
            "limits": {"flood_burst": 100000, "flood_rate": 100000.0},
            "log_level": "info",
            "cluster": {
                "redis": cluster_settings["redis"], "node": name,
                "prefix": cluster_settings["prefix"], "heartbeat": heartbeat,
                "dead_after": dead_after, "reuse_port": reuse_port,
            },
            **extra,
        }
        args: tuple[str, ...] = ()
        if switch is not None:
            config["cluster"]["enabled"] = False
            if switch == "--node":
                del config["cluster"]["node"]
                args = ("--node", name)
            else:
                args = (switch,)
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump(config))
        return Node(name, path, port, tmp_path / f"{name}.log", args)

    def start(*names: str, heartbeat: float = 0.5, dead_after: float = 2.0,
              reuse_port: bool = False, switch: str | None = None, **extra) -> list[Node]:
        """Nodes on ports of their own, or all on one port with `reuse_port`."""
        shared = free_port() if reuse_port else None
        started = [make(name, heartbeat, dead_after, shared or free_port(), reuse_port, switch,
                        **extra) for name in names]
        nodes.extend(started)
        # The first creates the schema alone; the others then start side by side.
        started[0].start()
        for node in started[1:]:
            node.launch()
        for node in started[1:]:
            node.wait_ready()
        return started

    yield start
    for node in nodes:
        node.stop()
    for node in nodes:  # shown by pytest when the test failed
        print(f"----- node {node.name} -----\n{node.log()}")
