"""The bots config and `python -m bots` as a real subprocess."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from support import REPO

from bots.config import ConfigError, load_config


def write(tmp_path, text: str):
    path = tmp_path / "bots.yaml"
    path.write_text(text)
    return path


def test_shipped_config_loads():
    configs = load_config(REPO / "config" / "bots.yaml")
    assert configs[0].nick == "wordsbot"
    assert configs[0].burst == 5 and configs[0].rate == 1.0
    assert "dice" in configs[0].plugins


@pytest.mark.parametrize("text, message", [
    ("bots: []", "bots: must be a non-empty list"),
    ("bots: [{server: x}]", "bots[0].nick: must be a nick"),
    ("bots: [{nick: a, port: 99999}]", "bots[0].port: must be a port number"),
    ("bots: [{nick: a, colour: red}]", "bots[0].colour: unknown key"),
    ("bots: [{nick: a, flood: {rate: 0}}]", "bots[0].flood.rate"),
    ("bots: [{nick: a, sasl: {mechanism: CRAM-MD5}}]", "bots[0].sasl.mechanism"),
    ("bots: [{nick: a, sasl: {mechanism: PLAIN}}]", "bots[0].sasl.password"),
    ("bots: [{nick: a, plugins: {dice: 3}}]", "bots[0].plugins.dice"),
    ("bots: [{nick: a, password_env: NO_SUCH_VARIABLE_HERE}]", "bots[0].password_env"),
    ("bots: [", "not valid YAML"),
])
def test_config_errors_name_the_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_check_config_command(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "bots", "check-config", str(REPO / "config/bots.yaml")],
                        capture_output=True, text=True, cwd=REPO, timeout=30, check=False)
    assert ok.returncode == 0, ok.stderr
    bad = write(tmp_path, "bots: [{nick: a, plugins: [no_such_plugin_xyz]}]")
    err = subprocess.run([sys.executable, "-m", "bots", "check-config", str(bad)],
                         capture_output=True, text=True, cwd=REPO, timeout=30, check=False)
    assert err.returncode == 2 and "plugins.no_such_plugin_xyz" in err.stderr


async def test_run_two_bots_in_one_process(start_server, raw_client, tmp_path):
    server_a = await start_server()
    server_b = await start_server()
    path = write(tmp_path, f"""
bots:
  - nick: alpha
    port: {server_a.port}
    channels: ["#one"]
    plugins: {{dice: {{}}}}
    flood: {{burst: 10, rate: 50}}
  - nick: beta
    port: {server_b.port}
    channels: ["#two"]
    plugins: [dice]
    storage: beta.sqlite
""")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bots", "run", str(path), cwd=REPO,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        for port, channel, nick in ((server_a.port, "#one", "alpha"), (server_b.port, "#two", "beta")):
            user = await raw_client(port, "tester")
            await user.send(f"JOIN {channel}")
            if nick not in " ".join(m.params[-1] for m in [await user.expect("353")]):
                await user.expect("JOIN", channel, timeout=15)
            await user.send(f"PRIVMSG {channel} :!roll 1d1")
            reply = await user.expect("PRIVMSG", channel, timeout=10)
            assert reply.nick == nick and reply.params[1].startswith("tester: 1")
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 0, err.decode()
    assert (tmp_path / "beta.sqlite").exists()
