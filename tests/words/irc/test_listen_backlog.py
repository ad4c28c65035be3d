"""limits.listen_backlog: the listening socket's accept queue, as the kernel reports it."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from words.config import ConfigError, load_config
from words.irc.server import listen_backlog, somaxconn

needs_ss = pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")


def kernel_backlog(port: int) -> int:
    """The backlog of the socket listening on 127.0.0.1:`port` (ss: Send-Q of a LISTEN row)."""
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                         check=True, timeout=10).stdout
    rows = [line.split() for line in out.splitlines() if line.strip()]
    assert len(rows) == 1, out
    return int(rows[0][2])


@needs_ss
async def test_the_default_backlog_is_1024(server):
    assert server.config.limits.listen_backlog == 1024
    cap = somaxconn()
    assert kernel_backlog(server.port) == (min(1024, cap) if cap is not None else 1024)


@needs_ss
async def test_the_backlog_is_configurable(start_server):
    server = await start_server(limits={"listen_backlog": 37})
    assert kernel_backlog(server.port) == 37


@needs_ss
async def test_a_backlog_above_somaxconn_is_capped_and_logged(start_server, caplog):
    cap = somaxconn()
    if cap is None:
        pytest.skip("no /proc/sys/net/core/somaxconn")
    server = await start_server(limits={"listen_backlog": cap + 1000})
    assert kernel_backlog(server.port) == cap
    assert f"limits.listen_backlog {cap + 1000} is above net.core.somaxconn: the kernel uses {cap}" in caplog.text


def test_listen_backlog_caps_at_somaxconn():
    cap = somaxconn()
    assert listen_backlog(5) == 5
    if cap is not None:
        assert listen_backlog(cap * 2) == cap


def test_the_config_key_is_read_and_checked(tmp_path):
    path = tmp_path / "words.yaml"
    path.write_text("limits: {listen_backlog: 4096}\n")
    assert load_config(str(path)).limits.listen_backlog == 4096
    path.write_text("limits: {listen_backlog: 0}\n")
    with pytest.raises(ConfigError, match="limits.listen_backlog: must be at least 1, got 0"):
        load_config(str(path))
    assert load_config(None).limits.listen_backlog == 1024
