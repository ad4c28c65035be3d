"""The README's first bot, and its test run by pytest with bots.pytest_plugin, as an author would."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from support import REPO

GREET = '''
from bots import command


@command("hello")
def hello(ctx):
    """hello [name]: say hello."""
    ctx.reply(f"hello, {ctx.args or ctx.sender}!")
'''

# Installing words registers the plugin (entry point pytest11): nothing to enable.
CONFTEST = ""

TEST_GREET = '''
async def test_hello(bot_harness):
    h = await bot_harness("greet")
    assert await h.say("!hello") == ["tester: hello, tester!"]
    assert await h.say("greeter, hello world") == []  # the harness bot is "testbot"
    assert await h.say("testbot: hello world") == ["tester: hello, world!"]
    assert await h.pm("hello") == ["hello, tester!"]
'''


def test_an_authors_plugin_test_passes(tmp_path):
    for name, text in (("greet.py", GREET), ("conftest.py", CONFTEST), ("test_greet.py", TEST_GREET)):
        (tmp_path / name).write_text(textwrap.dedent(text))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-o", "asyncio_mode=auto", "-p", "no:cacheprovider",
         "test_greet.py"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
