"""pytest fixtures for plugin authors: `bot_harness`.

Installing words registers it with pytest (entry point `pytest11`), so the
fixture is there in any project that has words installed (needs pytest-asyncio):

    async def test_roll(bot_harness):
        h = await bot_harness("mybot.plugins.greet")
        assert await h.say("!hello") == ["tester: hello!"]

Each call starts a words server in the test's event loop (or uses `server=`,
anything with a `.port`), a Bot with the plugins (storage in tmp_path), and a
user "tester" in "#test"; everything is stopped at teardown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bots.testing import BotHarness, start_harness


@pytest.fixture
async def bot_harness(tmp_path) -> AsyncIterator[Callable[..., Any]]:
    made: list[BotHarness] = []

    async def make(*plugins: str, **options: Any) -> BotHarness:
        options.setdefault("storage", str(tmp_path / f"{options.get('nick', 'testbot')}.sqlite"))
        harness = await start_harness(*plugins, **options)
        made.append(harness)
        return harness

    yield make
    for harness in reversed(made):
        await harness.close()
