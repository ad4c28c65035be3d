"""The gateway's XEP-0114 link to the XMPP server, kept up with backoff.

Each connection attempt uses a fresh slixmpp ComponentXMPP: no state of a
dead stream can leak into the next one, and slixmpp's own retry loop (with
its fixed backoff) is never left running. Waits grow from `reconnect_min`,
doubling, up to `reconnect_max`, and start over once a link was up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from words.config import XMPP

log = logging.getLogger("bridge.gateway")


class ComponentLink:
    def __init__(self, config: XMPP, setup: Callable[[Any], None],
                 on_up: Callable[[Any], None], on_down: Callable[[], None]) -> None:
        self.config = config
        self.setup = setup  # registers the gateway's handlers on a new ComponentXMPP
        self.on_up = on_up
        self.on_down = on_down
        self.xmpp: Any = None  # the ComponentXMPP while the link is up
        self.connects = 0  # successful connections so far
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._attempt: Any = None
        self._retired: set[asyncio.Future] = set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        self._stopping.set()
        xmpp = self.xmpp or self._attempt
        if xmpp is not None:
            try:
                await asyncio.wait_for(xmpp.disconnect(wait=2.0), 5)
            except TimeoutError:
                xmpp.abort()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        delay = self.config.reconnect_min
        while not self._stopping.is_set():
            if await self._connect_once():
                delay = self.config.reconnect_min
            if self._stopping.is_set():
                return
            log.info("XMPP: reconnecting to %s:%s in %.1fs", self.config.host, self.config.port, delay)
            try:
                await asyncio.wait_for(self._stopping.wait(), delay)
                return
            except TimeoutError:
                pass
            delay = min(delay * 2, self.config.reconnect_max)

    async def _connect_once(self) -> bool:
        """One connection: True if it came up (and has now gone down)."""
        from slixmpp import ComponentXMPP

        config = self.config
        xmpp = ComponentXMPP(config.component, config.secret)
        self._attempt = xmpp
        loop = asyncio.get_running_loop()
        up: asyncio.Future[bool] = loop.create_future()
        down: asyncio.Future[None] = loop.create_future()

        def failed(reason: Any) -> None:
            # Our loop retries with its own backoff, not slixmpp's.
            xmpp.cancel_connection_attempt()
            log.warning("XMPP: cannot connect to %s:%s: %s", config.host, config.port, reason)
            if not up.done():
                up.set_result(False)

        def disconnected(reason: Any) -> None:
            if not up.done():
                up.set_result(False)
            if not down.done():
                down.set_result(None)

        def stream_error(error: Any) -> None:
            log.error("XMPP: the server refused the component %s: %s %s", config.component,
                      error["condition"], error["text"] or "(check xmpp.secret and the "
                      "server's Component line)")

        xmpp.add_event_handler("session_start", lambda _: up.done() or up.set_result(True))
        xmpp.add_event_handler("connection_failed", failed)
        xmpp.add_event_handler("disconnected", disconnected)
        xmpp.add_event_handler("stream_error", stream_error)
        self.setup(xmpp)
        xmpp.connect(config.host, config.port)
        try:
            if not await up:
                xmpp.abort()
                return False
            self.connects += 1
            self.xmpp = xmpp
            log.info("XMPP: component %s connected to %s:%s", config.component, config.host,
                     config.port)
            self.on_up(xmpp)
            await down
            log.warning("XMPP: component %s disconnected", config.component)
            return True
        finally:
            if self.xmpp is xmpp:
                self.xmpp = None
                self.on_down()
            self._attempt = None
            self._retire(xmpp)

    def _retire(self, xmpp: Any) -> None:
        """Stop a finished stream's output task and hold it until it is done.

        slixmpp cancels it only when the stream object is collected, and the task,
        cancelled but never run again, is then destroyed pending (asyncio complains)."""
        task = getattr(xmpp, "_run_out_filters", None)
        if task is not None and not task.done():
            task.cancel()
            self._retired.add(task)
            task.add_done_callback(self._retired.discard)
