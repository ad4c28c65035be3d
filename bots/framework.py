"""Bot: plugins of decorated functions on top of IRCClient.

A plugin is a module of functions decorated with `@command`, `@rule`,
`@event` or `@interval`, each taking one `Context`. Optional module-level
`setup(bot)` and `teardown(bot)` run at load and unload (plain or async).

    from bots import command

    @command("hello")
    def hello(ctx):
        "hello: say hello back"
        ctx.reply("hello!")

Handlers run in the order plugins were loaded; an exception in one is logged
and the bot goes on. Async handlers run as tasks owned by their plugin, so
unloading a plugin cancels what it left running.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import re
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bots.client import IRCClient
from bots.storage import PluginStorage, Storage
from words.irc.codec import Message, match_mask, split_source

__all__ = [
    "Bot",
    "Context",
    "Handler",
    "command",
    "event",
    "interval",
    "require_account",
    "require_admin",
    "require_chanop",
    "require_owner",
    "require_private",
    "rule",
]

log = logging.getLogger("bots.framework")

_SPECS = "__bots_specs__"
_CHECKS = "__bots_checks__"


# -- decorators --------------------------------------------------------------------------


@dataclass
class Handler:
    kind: str  # "command", "rule", "event", "interval"
    func: Callable[..., Any]
    plugin: str = ""
    names: tuple[str, ...] = ()  # command names / event commands
    pattern: re.Pattern[str] | None = None
    seconds: float = 0.0

    @property
    def checks(self) -> list[str]:
        return getattr(self.func, _CHECKS, [])

    @property
    def doc(self) -> str:
        return inspect.getdoc(self.func) or ""


def _add_spec(func: Callable, spec: Handler) -> Callable:
    specs = func.__dict__.setdefault(_SPECS, [])
    specs.append(spec)
    return func


def command(*names: str) -> Callable[[Callable], Callable]:
    """`!name args` (the prefix is configurable) or `botnick: name args`."""
    if not names:
        raise TypeError("command() needs at least one name")

    def deco(func: Callable) -> Callable:
        return _add_spec(func, Handler("command", func, names=tuple(n.lower() for n in names)))

    return deco


def rule(pattern: str, flags: int = re.IGNORECASE) -> Callable[[Callable], Callable]:
    """Any message matching the regex (re.search); the match is `ctx.match`."""
    compiled = re.compile(pattern, flags)

    def deco(func: Callable) -> Callable:
        return _add_spec(func, Handler("rule", func, pattern=compiled))

    return deco


def event(*commands: str) -> Callable[[Callable], Callable]:
    """Raw IRC lines by command ("JOIN", "NICK", "001"...), "*" for all."""

    def deco(func: Callable) -> Callable:
        return _add_spec(func, Handler("event", func, names=tuple(c.upper() for c in commands)))

    return deco


def interval(seconds: float) -> Callable[[Callable], Callable]:
    """Call every `seconds` while the plugin is loaded (with a Context of no message)."""
    if seconds <= 0:
        raise ValueError("interval must be positive")

    def deco(func: Callable) -> Callable:
        return _add_spec(func, Handler("interval", func, seconds=seconds))

    return deco


def _check(name: str) -> Callable[[Callable], Callable]:
    def deco(func: Callable) -> Callable:
        func.__dict__.setdefault(_CHECKS, []).append(name)
        return func

    return deco


require_account = _check("account")  # the sender is logged in to an account
require_chanop = _check("chanop")  # the sender is a channel operator where they spoke
require_owner = _check("owner")  # an owner (by account, else hostmask)
require_admin = _check("admin")  # an admin or an owner
require_private = _check("private")  # only in a private message


# -- the context -------------------------------------------------------------------------


@dataclass
class Context:
    bot: Bot
    plugin: str
    msg: Message | None = None
    source: str = ""  # nick!user@host
    channel: str | None = None  # None for a private message
    text: str = ""
    match: re.Match[str] | None = None
    command: str | None = None
    args: str = ""
    is_action: bool = False

    @property
    def sender(self) -> str:
        return split_source(self.source)[0]

    @property
    def tags(self) -> dict[str, str]:
        return (self.msg.tags if self.msg and self.msg.tags else {})

    @property
    def time(self) -> datetime:
        """server-time when the server sent it, else now (UTC)."""
        stamp = self.tags.get("time")
        if stamp:
            try:
                return datetime.fromisoformat(stamp)
            except ValueError:
                pass
        return datetime.now(UTC)

    @property
    def account(self) -> str | None:
        if "account" in self.tags:
            return self.tags["account"]
        user = self.bot.users.get(self.bot.fold(self.sender)) if self.sender else None
        return user.account if user else None

    @property
    def target(self) -> str:
        """Where a reply goes: the channel, or the sender for a private message."""
        return self.channel or self.sender

    @property
    def storage(self) -> PluginStorage:
        return self.bot.storage_for(self.plugin)

    @property
    def settings(self) -> dict[str, Any]:
        return self.bot.settings.get(self.plugin, {})

    def say(self, text: str, target: str | None = None) -> None:
        self.bot.msg(target or self.target, text)

    def reply(self, text: str) -> None:
        """In a channel `sender: text`; in private just the text."""
        if self.channel:
            self.bot.msg(self.channel, f"{self.sender}: {text}")
        else:
            self.bot.msg(self.sender, text)

    def action(self, text: str, target: str | None = None) -> None:
        self.bot.describe(target or self.target, text)

    def notice(self, text: str, target: str | None = None) -> None:
        self.bot.notice(target or self.sender, text)


# -- plugins -----------------------------------------------------------------------------


@dataclass
class Plugin:
    name: str
    module: types.ModuleType
    handlers: list[Handler] = field(default_factory=list)
    tasks: set[asyncio.Task] = field(default_factory=set)


# Installed packages offer plugins under this entry-point group:
#   [project.entry-points."words.bots.plugins"]
#   weather = "mypackage.weather"
ENTRY_POINT_GROUP = "words.bots.plugins"


def resolve_plugin(name: str) -> str:
    """The module of a plugin name.

    "dice" is bots.plugins.dice if that exists, else an entry point of that
    name, else a top-level module; a dotted name is a module path as is.
    """
    if "." in name:
        return name
    if importlib.util.find_spec(f"bots.plugins.{name}") is not None:
        return f"bots.plugins.{name}"
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP, name=name):
        return ep.value.partition(":")[0].strip()
    return name


class Bot(IRCClient):
    """An IRCClient that dispatches to plugins."""

    def __init__(
        self,
        nickname: str = "wordsbot",
        *,
        prefix: str = "!",
        channels: Iterable[str] = (),
        owners: Iterable[str] = (),
        owner_masks: Iterable[str] = (),
        admins: Iterable[str] = (),
        admin_masks: Iterable[str] = (),
        settings: dict[str, dict[str, Any]] | None = None,
        storage: Storage | str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(nickname, **kwargs)
        self.prefix = prefix
        for channel in channels:
            self.join_on_connect(channel)
        self.owners = {o.lower() for o in owners}
        self.owner_masks = list(owner_masks)
        self.admins = {a.lower() for a in admins}
        self.admin_masks = list(admin_masks)
        self.settings = settings or {}
        self.ignored: list[str] = []  # hostmasks whose messages are dropped
        self.plugins: dict[str, Plugin] = {}
        self._storage = storage if isinstance(storage, Storage) else Storage(storage or ":memory:")
        self.interval_tasks: set[asyncio.Task] = set()  # never end
        self.handler_tasks: set[asyncio.Task] = set()  # one handler call each

    def join_on_connect(self, channel: str) -> None:
        name = channel if channel[:1] in "&#!+" else "#" + channel
        self.wanted_channels[self.fold(name)] = name

    def storage_for(self, plugin: str) -> PluginStorage:
        return self._storage.plugin(plugin)

    @property
    def handlers(self) -> list[Handler]:
        return [h for p in self.plugins.values() for h in p.handlers]

    # -- plugin lifecycle ----------------------------------------------------------------

    async def load_plugin(self, name: str, *, fresh: bool = False) -> Plugin:
        """Import a plugin module (re-read from disk if `fresh`) and register its handlers."""
        modname = resolve_plugin(name)
        short = name if "." not in name else modname
        if short in self.plugins:
            raise ValueError(f"plugin {short!r} is already loaded")
        module = sys.modules.get(modname)
        if module is not None and fresh:
            module = importlib.reload(module)
        elif module is None:
            module = importlib.import_module(modname)
        plugin = Plugin(short, module)
        for value in list(vars(module).values()):
            for spec in getattr(value, _SPECS, []) if callable(value) else []:
                plugin.handlers.append(Handler(spec.kind, spec.func, short, spec.names,
                                               spec.pattern, spec.seconds))
        self.plugins[short] = plugin
        setup = getattr(module, "setup", None)
        if setup is not None:
            try:
                result = setup(self)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                del self.plugins[short]
                raise
        for handler in plugin.handlers:
            if handler.kind == "interval":
                task = self._plugin_task(plugin, self._run_interval(handler), handler.func.__name__)
                self.interval_tasks.add(task)
                task.add_done_callback(self.interval_tasks.discard)
        log.info("loaded plugin %s (%d handlers)", short, len(plugin.handlers))
        return plugin

    async def unload_plugin(self, name: str) -> None:
        plugin = self.plugins.pop(name, None)
        if plugin is None:
            raise KeyError(f"plugin {name!r} is not loaded")
        for task in list(plugin.tasks):
            task.cancel()
        if plugin.tasks:
            await asyncio.gather(*plugin.tasks, return_exceptions=True)
        teardown = getattr(plugin.module, "teardown", None)
        if teardown is not None:
            try:
                result = teardown(self)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("error in %s.teardown", name)
        log.info("unloaded plugin %s", name)

    async def reload_plugin(self, name: str) -> Plugin:
        """Unload, re-read from disk, load. If the new code fails to load, the old
        code is loaded back (and the error raised), so a typo never costs the plugin."""
        if name not in self.plugins:
            raise KeyError(f"plugin {name!r} is not loaded")
        module = self.plugins[name].module
        await self.unload_plugin(name)
        try:
            return await self.load_plugin(name, fresh=True)
        except Exception:
            sys.modules[module.__name__] = module
            await self.load_plugin(name)
            raise

    def plugin_task(self, plugin: str, coro, name: str = "task") -> asyncio.Task:
        """Run a coroutine owned by a plugin: cancelled when the plugin is unloaded."""
        return self._plugin_task(self.plugins[plugin], coro, name)

    def _plugin_task(self, plugin: Plugin, coro, name: str) -> asyncio.Task:
        task = self.spawn(coro, name=f"{plugin.name}.{name}")
        plugin.tasks.add(task)
        task.add_done_callback(plugin.tasks.discard)
        return task

    async def close(self) -> None:
        """Unload every plugin (cancelling their tasks) and close the storage."""
        for name in list(self.plugins):
            await self.unload_plugin(name)
        self._storage.close()

    # -- dispatch ------------------------------------------------------------------------

    def _run(self, handler: Handler, ctx: Context) -> None:
        plugin = self.plugins.get(handler.plugin)
        if plugin is None:
            return
        refusal = self._refusal(handler, ctx)
        if refusal:
            if ctx.source:
                ctx.notice(refusal)
            return
        name = handler.func.__name__
        try:
            result = handler.func(ctx)
        except Exception:
            log.exception("error in %s.%s", handler.plugin, name)
            return
        if inspect.isawaitable(result):
            task = self._plugin_task(plugin, result, name)
            self.handler_tasks.add(task)
            task.add_done_callback(self.handler_tasks.discard)

    async def _run_interval(self, handler: Handler) -> None:
        while True:
            await asyncio.sleep(handler.seconds)  # a schedule, not a wait for an event
            if self.is_signed_on:
                ctx = Context(self, handler.plugin)
                try:
                    result = handler.func(ctx)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("error in %s.%s", handler.plugin, handler.func.__name__)

    def is_ignored(self, source: str) -> bool:
        folded = self.fold(source)
        return any(match_mask(self.fold(mask), folded) for mask in self.ignored)

    def _has_role(self, ctx: Context, accounts: set[str], masks: list[str]) -> bool:
        # The account (vouched for by the server) first; the hostmask only as a fallback.
        account = ctx.account
        if account and account.lower() in accounts:
            return True
        folded = self.fold(ctx.source)
        return any(match_mask(self.fold(mask), folded) for mask in masks)

    def is_owner(self, ctx: Context) -> bool:
        return self._has_role(ctx, self.owners, self.owner_masks)

    def is_admin(self, ctx: Context) -> bool:
        return self.is_owner(ctx) or self._has_role(ctx, self.admins, self.admin_masks)

    def _refusal(self, handler: Handler, ctx: Context) -> str | None:
        for check in handler.checks:
            if check == "account" and not ctx.account:
                return "You must be logged in to an account for that."
            if check == "chanop" and not (ctx.channel and self.is_chanop(ctx.channel, ctx.sender)):
                return "Only channel operators may do that."
            if check == "owner" and not self.is_owner(ctx):
                return "Only the bot's owners may do that."
            if check == "admin" and not self.is_admin(ctx):
                return "Only the bot's admins may do that."
            if check == "private" and ctx.channel:
                return "That works only in a private message."
        return None

    def line_received(self, msg: Message) -> None:
        if msg.source and self.is_ignored(msg.source):
            return
        self._dispatch_events(msg)

    def send(self, command: str, *params: str, tags: dict[str, str] | None = None,
             priority: bool = False) -> None:
        super().send(command, *params, tags=tags, priority=priority)
        # Event handlers (a logger) see the bot's own messages as the channel does,
        # whether or not the server echoes them (echo-message).
        if (command in ("PRIVMSG", "NOTICE") and "echo-message" not in self.caps
                and self.transport is not None):
            source = f"{self.nickname}!{self.userhost or '*@*'}"
            self._dispatch_events(Message(command, list(params), source))

    def _dispatch_events(self, msg: Message) -> None:
        command = msg.command.upper()
        for handler in self.handlers:
            if handler.kind == "event" and (command in handler.names or "*" in handler.names):
                channel = msg.params[0] if msg.params and self.is_channel(msg.params[0]) else None
                ctx = Context(self, handler.plugin, msg, msg.source or "", channel,
                              msg.params[-1] if msg.params else "")
                self._run(handler, ctx)

    def _message(self, user: str, channel: str, text: str, is_action: bool) -> None:
        if self.is_me(split_source(user)[0]) or self.is_ignored(user):
            return
        msg = self._current
        where = None if self.is_me(channel) else channel
        for handler in self.handlers:
            ctx = Context(self, handler.plugin, msg, user, where, text, is_action=is_action)
            if handler.kind == "command" and not is_action:
                parsed = self._parse_command(text, private=where is None)
                if parsed and parsed[0] in handler.names:
                    ctx.command, ctx.args = parsed
                    self._run(handler, ctx)
            elif handler.kind == "rule" and handler.pattern is not None:
                match = handler.pattern.search(text)
                if match:
                    ctx.match = match
                    self._run(handler, ctx)

    def _parse_command(self, text: str, private: bool) -> tuple[str, str] | None:
        """`!name args`, `botnick: name args` (or `,`), and in private also `name args`."""
        body = None
        if self.prefix and text.startswith(self.prefix):
            body = text[len(self.prefix):]
        else:
            nick = self.nickname
            head = text[: len(nick)]
            if self.fold(head) == self.fold(nick) and text[len(nick): len(nick) + 1] in (":", ","):
                body = text[len(nick) + 1:].lstrip()
            elif private:
                body = text
        if not body or body[0].isspace():
            return None
        name, _, args = body.partition(" ")
        return name.lower(), args.strip()

    def handle_message(self, msg: Message) -> None:
        self._current = msg  # the line being dispatched, for Context.msg
        try:
            super().handle_message(msg)
        finally:
            self._current = None

    _current: Message | None = None

    def privmsg(self, user: str, channel: str, message: str) -> None:
        self._message(user, channel, message, is_action=False)

    def action(self, user: str, channel: str, data: str) -> None:
        self._message(user, channel, data, is_action=True)
