"""The cluster link: one node's realm joined to the others' through Redis.

- **Publishing.** The link subscribes to the local realm. Every event that
  happens here (not one applied from another node) is encoded with names
  (wire.py) and published: channel and private messages to the inbox of each
  node that has a recipient (once per node, never per member), every other
  event to the channel all nodes hear. One writer task sends them in order
  through one connection, so every node sees this node's events in the order
  they happened; one Redis orders all nodes' events the same way for everyone.
- **Applying.** One reader task gets the other nodes' messages and applies them
  to this realm as events (remote.py); their users are `User`s whose mind is a
  no-op `RemoteMind`. Nothing applied from another node is published again.
- **Claims.** A nick is claimed in Redis (`SET NX` in a script) before a local
  sign-on or rename is accepted, and released when it is given up; a new
  channel's first joiner is op only if its node wins `SET NX` on the channel.
- **Snapshot.** Each node keeps its own users' records (user, channels,
  status) and the channels it changed in Redis hashes; a node that starts
  subscribes first, then reads the hashes in one MULTI, then applies what
  arrived meanwhile (appliers ignore what is already there).
- **Heartbeats.** Each node refreshes `alive:<node>` (expiring after
  `dead_after`) every `heartbeat` seconds; every node checks the others' keys
  as often, and a node whose key expired is declared dead: its users quit
  everywhere with the reason `*.net *.split <node> lost`, and its claims and
  records are removed (by a script that first checks it is still dead). Its
  last heartbeat stays in the nodes hash, shown as dead by `words cluster
  status`, for DEAD_NODE_LISTED seconds or until it starts again.
- **Lag.** With each heartbeat a node sends a ping to its own inbox through
  the writer's queue; the time until its reader gets it back (queue, Redis,
  reader: what an event of this node takes to reach a node) is its lag.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from words.cluster import ClusterError
from words.cluster.keys import Keys
from words.cluster.remote import RemoteApplier, RemoteMind, remote_node
from words.cluster.settings import redacted
from words.cluster.wire import MEMBER_CHANGES, dumps, encode, group_record, user_record
from words.realm.events import (
    AccessChanged,
    AccountChanged,
    AwayChanged,
    Event,
    GroupCreated,
    GroupDropped,
    GroupRegistered,
    GroupRemoved,
    HostChanged,
    Joined,
    Kicked,
    Left,
    MetaChanged,
    Quit,
    RealnameChanged,
    Renamed,
    Said,
    SettingsChanged,
    SignedOn,
    UserFlagsChanged,
)
from words.realm.model import Group, User

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from words.cluster.settings import Cluster
    from words.realm.service import WordsRealm

log = logging.getLogger("words.cluster")

# A first-joiner claim only has to outlive the moment two nodes both see a
# new channel as empty; it is deleted when the channel goes, and expires
# anyway, so a claim left by a crash never keeps a channel op-less for long.
CHANOP_CLAIM_SECONDS = 60
# How long a dead node's last heartbeat stays listed (as dead) by `words cluster status`.
DEAD_NODE_LISTED = 3600.0

# Events that change a local user's record in the users hash.
_USER_EVENTS = (AwayChanged, AccountChanged, RealnameChanged, HostChanged, UserFlagsChanged)
# Events that change a channel's record in the chans hash (when they happen here).
_GROUP_EVENTS = (GroupCreated, MetaChanged, GroupRegistered, GroupDropped, AccessChanged)

# KEYS: nick claim, this node's claim set; ARGV: node. 1 if the node holds the nick now.
_CLAIM_NICK = """
local owner = redis.call('GET', KEYS[1])
if owner == false then
  redis.call('SET', KEYS[1], ARGV[1])
  redis.call('SADD', KEYS[2], KEYS[1])
  return 1
end
if owner == ARGV[1] then return 1 end
return 0
"""
# KEYS: nick claim, this node's claim set; ARGV: node.
_RELEASE_NICK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
redis.call('SREM', KEYS[2], KEYS[1])
return 0
"""
# KEYS: channel claim; ARGV: token.
_RELEASE_CHANOP = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""
# Remove what a node left in Redis: its claims, its users' records, and (forced) its
# last heartbeat. KEYS: alive, claim set, users hash, nodes hash; ARGV: node, force
# ("1": even if alive: the node itself, starting or stopping). Without force it does
# nothing while the node's heartbeat key exists, so a node that came back meanwhile
# keeps its fresh state, and it keeps the last heartbeat to show the node as dead.
_CLEANUP_NODE = """
if ARGV[2] ~= '1' and redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  if redis.call('GET', key) == ARGV[1] then redis.call('DEL', key) end
end
redis.call('DEL', KEYS[2])
local records = redis.call('HGETALL', KEYS[3])
local removed = 0
for i = 1, #records, 2 do
  local ok, record = pcall(cjson.decode, records[i + 1])
  if ok and record['n'] == ARGV[1] then
    redis.call('HDEL', KEYS[3], records[i])
    removed = removed + 1
  end
end
if ARGV[2] == '1' then redis.call('HDEL', KEYS[4], ARGV[1]) end
return removed
"""
# Forget a dead node's last heartbeat. KEYS: alive, nodes hash; ARGV: node.
_FORGET_NODE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('HDEL', KEYS[2], ARGV[1])
"""


class ClusterLink:
    """Joins `realm` to the other nodes of the network through Redis."""

    def __init__(self, realm: WordsRealm, settings: Cluster) -> None:
        self.realm = realm
        self.settings = settings
        self.node = settings.node_name
        self.boot = secrets.token_hex(8)
        self.keys = Keys(settings.prefix)
        self.started_at = time.time()
        self.redis: Redis | None = None
        self.applier = RemoteApplier(realm, self.node, self._learn_chan_token)
        self.running = False
        # Called after each rejoin (see _rejoin): what this node may have missed meanwhile
        # and keeps outside the realm (the IRC server's K-/D-lines) is read again.
        self.on_rejoin: list[Callable[[], Awaitable[None]]] = []
        self.published = 0  # messages sent to Redis, for `cluster status` and tests
        self.applied = 0  # messages from other nodes applied here
        self._pubsub: Any = None
        self._tasks: list[asyncio.Task] = []
        self._reader_task: asyncio.Task | None = None
        # Set when a connection to Redis broke (messages may have been lost either
        # way): the next heartbeat that gets through resynchronizes (_rejoin).
        self._resync_needed = False
        # The writer's queue: messages and scripts in order, plus records to write first.
        self._out: list[tuple[Any, ...]] = []
        self._dirty_users: set[User] = set()
        self._gone_users: set[str] = set()
        self._dirty_groups: set[Group] = set()
        self._gone_groups: set[str] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._locals: set[User] = set()  # users signed on here (services excepted)
        # First-joiner claims: folded channel -> this join's claim token (None: lost).
        self._op_claims: dict[str, str | None] = {}
        self._chan_tokens: dict[str, str] = {}  # folded channel -> token of its first op
        # Folded channel -> the other nodes with members: computed on a message, kept
        # until the channel's membership changes (a message costs no scan of its members).
        self._group_nodes: dict[str, frozenset[str]] = {}
        self._dead: set[str] = set()  # nodes declared dead, until they say hello again
        self._cleaned: set[str] = set()  # of those, the ones whose state we removed from Redis
        self.lag = 0.0  # seconds, the last ping's round trip (see the module's docstring)
        self._ping_sent: float | None = None  # monotonic time of the ping under way
        self._unsubscribe = realm.subscribe(self._on_event)
        realm.first_joiner_op = self._first_joiner_op

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        """Join the network: clean up after a previous run, load the snapshot, then go live."""
        from redis.asyncio import Redis

        settings = self.settings
        self.redis = Redis.from_url(settings.redis)
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise ClusterError(f"cannot reach Redis at {redacted(settings.redis)}: {exc}") from None
        self._claim_nick = self.redis.register_script(_CLAIM_NICK)
        self._release_nick = self.redis.register_script(_RELEASE_NICK)
        self._release_chanop = self.redis.register_script(_RELEASE_CHANOP)
        self._cleanup_node = self.redis.register_script(_CLEANUP_NODE)
        self._forget_node = self.redis.register_script(_FORGET_NODE)
        await self._wait_for_name()
        # Whatever a previous run of this node left (a crash): gone before we say hello.
        removed = await self._cleanup(self.node, force=True)
        if removed:
            log.info("removed %d stale user records of a previous run of %s", removed, self.node)
        await self._beat()
        await self._subscribe()
        await self._load_snapshot()
        self.running = True
        self._publish_all({"t": "hello", "boot": self.boot, "why": "restarted"})
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._writer(), name="cluster-writer"),
            loop.create_task(self._heartbeats(), name="cluster-heartbeat"),
        ]
        self._reader_task = loop.create_task(self._reader(self._pubsub), name="cluster-reader")
        log.info("node %s joined the cluster at %s (prefix %s)", self.node,
                 redacted(settings.redis), settings.prefix)

    async def stop(self) -> None:
        """Leave: send what is queued (the local users' quits), say goodbye, remove our state."""
        if self.redis is None:
            return
        if self.running:
            self._publish_all({"t": "bye"})
            await self.drain()
        self.running = False
        tasks = [*self._tasks, *([self._reader_task] if self._reader_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._unsubscribe()
        try:
            await self._cleanup(self.node, force=True)
            await self.redis.delete(self.keys.alive(self.node))
        except (RedisError, OSError) as exc:  # Redis gone: the others will declare us dead
            log.warning("could not remove this node's state from Redis: %s", exc)
        try:
            if self._pubsub is not None:
                await self._pubsub.aclose()
            await self.redis.aclose()
        except (RedisError, OSError):
            pass  # closing connections to a Redis that is gone
        self.redis = None

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until the writer has sent everything queued so far."""
        self._wake.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            log.warning("cluster writer still busy after %.0f s", timeout)

    async def _subscribe(self) -> None:
        """A fresh subscription to the all-nodes channel and our inbox, confirmed.

        Confirmed before the snapshot is read, so nothing falls in between.
        """
        assert self.redis is not None
        keys = self.keys
        old, self._pubsub = self._pubsub, self.redis.pubsub()
        if old is not None:
            try:
                await old.aclose()
            except (RedisError, OSError):
                pass  # the connection it had is gone already
        await self._pubsub.subscribe(keys.all, keys.inbox(self.node))
        confirmed = 0
        while confirmed < 2:
            message = await self._pubsub.get_message(timeout=10.0)
            if message is None:
                raise ClusterError("Redis did not confirm the subscriptions")
            if message["type"] == "subscribe":
                confirmed += 1

    async def _wait_for_name(self) -> None:
        """Refuse a node name that a live node uses; after a crash, wait for its heartbeat to end."""
        assert self.redis is not None
        key = self.keys.alive(self.node)
        deadline = time.monotonic() + self.settings.dead_after + self.settings.heartbeat
        warned = False
        while await self.redis.exists(key):
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"node name {self.node!r} is in use by a live node; give this node another "
                    f"cluster.node"
                )
            if not warned:
                log.warning("node %s still has a heartbeat (a previous run?); waiting up to %.0f s",
                            self.node, self.settings.dead_after)
                warned = True
            await asyncio.sleep(self.settings.heartbeat / 2)  # polling an expiring key, with a deadline

    async def _cleanup(self, node: str, *, force: bool) -> int:
        assert self.redis is not None
        keys = self.keys
        return int(await self._cleanup_node(
            keys=[keys.alive(node), keys.node_nicks(node), keys.users, keys.nodes],
            args=[node, "1" if force else "0"],
        ))

    # -- snapshot ------------------------------------------------------------------

    async def _load_snapshot(self) -> None:
        assert self.redis is not None
        keys = self.keys
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(keys.users)
            pipe.hgetall(keys.chans)
            users, chans = await pipe.execute()
        records = [json.loads(v) for v in users.values()]
        nodes = sorted({r["n"] for r in records if r.get("n") != self.node})
        alive = dict(zip(nodes, await self.redis.mget([keys.alive(n) for n in nodes]))) if nodes else {}
        applier, realm = self.applier, self.realm
        realm.applying_remote = True
        try:
            for raw in chans.values():
                record = json.loads(raw)
                group = applier.load_group(record)
                if record.get("k"):
                    self._chan_tokens[group.folded] = record["k"]
            count = 0
            for record in records:
                node = record.get("n")
                if node == self.node or not alive.get(node):
                    continue  # ours from a previous run, or a dead node's: cleaned up elsewhere
                user = applier.sign_on(node, record)
                if user is None:
                    continue
                count += 1
                for name, status in record.get("gs", []):
                    applier.join(applier.group(name), user, status)
            for group in list(realm.groups.values()):
                if group.transient and not group.members:  # a record whose members are gone
                    realm.apply(GroupRemoved(group=group))
        finally:
            realm.applying_remote = False
        log.info("snapshot: %d users on %d other nodes, %d channels", count, len(nodes), len(realm.groups))

    # -- claims (called from the IRC handlers) -------------------------------------------

    async def claim_nick(self, nick: str) -> bool:
        """True if this node now holds `nick` across the network (or held it already)."""
        assert self.redis is not None
        keys = self.keys
        folded = self.realm.casefold(nick)
        return bool(await self._claim_nick(
            keys=[keys.nick(folded), keys.node_nicks(self.node)], args=[self.node]
        ))

    def release_nick(self, nick: str) -> None:
        keys = self.keys
        folded = self.realm.casefold(nick)
        self._queue(("script", _RELEASE_NICK, [keys.nick(folded), keys.node_nicks(self.node)],
                     [self.node]))

    async def sign_on_claimed(self, conn: Any) -> None:
        """Registration: claim the nick across the network, then sign on (433 if it is taken)."""
        nick = conn.nick
        held: bool | None = False
        if not self._online_here(nick):
            try:
                held = await self.claim_nick(nick)
            except (RedisError, OSError) as exc:
                log.error("nick claim for %s failed: %s", nick, exc)
                held = None
        if conn.closing:
            if held:
                self._give_back(nick)
            return
        if not held or self._online_here(nick):
            # Shown here although the claim was granted: another node's user whose quit
            # (or whose node's death) has not reached this node yet.
            if held:
                self._give_back(nick)
            conn.nick = None  # not registered: the answer is to "*", and NICK may try again
            _refuse_nick(conn, nick, held)
            return
        conn.sign_on_now()
        if conn.user is None:
            self._give_back(nick)  # refused here after all: let someone else have it

    def _give_back(self, nick: str) -> None:
        """Release a claim granted but not used, unless a user of this node has the nick.

        (Two registrations of one nick on this node both get the claim: the one that
        signed on keeps it.)
        """
        user = self.realm.find_user(nick)
        if user is None or user not in self._locals:
            self.release_nick(nick)

    def _online_here(self, nick: str) -> bool:
        user = self.realm.find_user(nick)
        return user is not None and user.online

    async def rename_claimed(self, conn: Any, nick: str) -> None:
        """NICK of a registered client: claim the new nick across the network first."""
        from words.realm import DuplicateUser

        user = conn.user
        try:
            held: bool | None = await self.claim_nick(nick)
        except (RedisError, OSError) as exc:
            log.error("nick claim for %s failed: %s", nick, exc)
            held = None
        if conn.closing or conn.user is not user or user is None:
            if held:
                self._give_back(nick)
            return
        if not held:
            _refuse_nick(conn, nick, held)
            return
        try:
            self.realm.rename(user, nick)
        except DuplicateUser:  # shown here, gone elsewhere (as at registration)
            self._give_back(nick)
            conn.numeric("433", nick, "Nickname is already in use")
            return
        conn.nick = user.name

    def channels_to_claim(self, names: list[str]) -> list[str]:
        """Of the channels a JOIN names, those that are new here: their first joiner is op."""
        realm = self.realm
        if not realm.op_first_joiner:
            return []
        wanted = []
        for name in names:
            if not name.startswith("#"):
                continue
            group = realm.find_group(name)
            if group is None or (not group.members and group.founder is None):
                wanted.append(realm.casefold(name))
        return wanted

    async def claim_channels(self, folded_names: list[str]) -> None:
        """Try to become the first op of each channel; the realm asks `_first_joiner_op` later."""
        assert self.redis is not None
        tokens = {name: f"{self.node}:{secrets.token_hex(6)}" for name in folded_names}
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for name, token in tokens.items():
                    pipe.set(self.keys.chanop(name), token, nx=True, ex=CHANOP_CLAIM_SECONDS)
                results = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.error("channel claims failed: %s", exc)
            results = [False] * len(tokens)
        for (name, token), won in zip(tokens.items(), results):
            self._op_claims[name] = token if won else None

    def end_channel_claims(self, folded_names: list[str]) -> None:
        """After the JOIN: give back the claims of joins that were refused."""
        for name in folded_names:
            token = self._op_claims.pop(name, None)
            if token is not None:
                self._queue(("script", _RELEASE_CHANOP, [self.keys.chanop(name)], [token]))

    def _first_joiner_op(self, group: Group, user: User) -> bool | None:
        """The realm asks this on every join (WordsRealm.first_joiner_op).

        The winner of a claim is op even if users of nodes that lost it are
        already here (their joins can arrive while the claim is asked).
        """
        if group.folded not in self._op_claims or self.realm.applying_remote:
            return None  # no claim was made (a service, the gateway): the local view decides
        token = self._op_claims.pop(group.folded)
        if token is None:
            return False  # another node's user got there first
        self._chan_tokens[group.folded] = token
        return True

    def _learn_chan_token(self, folded: str, token: str) -> None:
        self._chan_tokens[folded] = token

    # -- the realm's events --------------------------------------------------------------

    def _on_event(self, event: Event) -> None:
        if not self.running:
            return
        kind = type(event)
        if kind is Said:
            if not self.realm.applying_remote:
                self._publish_said(event)
            return
        self._forget_group_nodes(event, kind)
        given_up = self._keep_records(event, kind)
        if not self.realm.applying_remote:
            self._publish(event, kind)
        if given_up is not None:
            # After the QUIT or NICK is published: a node whose claim of the nick then
            # succeeds has that event on its way, not still to come.
            self.release_nick(given_up)

    def _publish(self, event: Event, kind: type) -> None:
        user = getattr(event, "user", None)
        if user is not None and _is_service(user):
            return
        data = encode(event, self.node)
        if data is None:
            return
        if kind is Joined or kind is GroupCreated:
            token = self._chan_tokens.get(event.group.folded)
            if token is not None:
                data = data[:-1] + b',"k":' + json.dumps(token).encode() + b"}"
        self._queue(("pub", self.keys.all, data))

    def _publish_said(self, event: Said) -> None:
        target = event.target
        if isinstance(target, Group):
            nodes = self._group_nodes.get(target.folded)
            if nodes is None:
                nodes = self._group_nodes[target.folded] = frozenset(
                    m.mind.node for m in target.members if type(m.mind) is RemoteMind
                )
            if not nodes:
                return
        else:
            node = remote_node(target)
            if node is None:
                return
            nodes = {node}
        data = encode(event, self.node)
        for node in nodes:
            self._queue(("pub", self.keys.inbox(node), data))

    def _forget_group_nodes(self, event: Event, kind: type) -> None:
        """Membership changed: the cached nodes of the channel (of every channel, on a quit)."""
        if kind is Joined or kind is Left or kind is Kicked or kind is GroupRemoved:
            self._group_nodes.pop(event.group.folded, None)
        elif kind is Quit and self._group_nodes:
            self._group_nodes.clear()  # the quitter's channels are already forgotten

    def _keep_records(self, event: Event, kind: type) -> str | None:
        """Keep this node's users' records (and the channels changed here) up to date in Redis.

        Returns the nick a local user gave up (a quit, a rename), for the caller to
        release once the event is published.
        """
        locals_ = self._locals
        given_up: str | None = None
        if kind is SignedOn:
            user = event.user
            if user.mind is not None and type(user.mind) is not RemoteMind and not _is_service(user):
                locals_.add(user)
                self._dirty_users.add(user)
                self._claim_blind(user.name)
        elif kind is Quit:
            user = event.user
            if user in locals_:
                locals_.discard(user)
                self._dirty_users.discard(user)
                self._gone_users.add(user.folded)
                given_up = user.name
        elif kind is Renamed:
            user = event.user
            if user in locals_:
                self._gone_users.add(self.realm.casefold(event.old_name))
                self._dirty_users.add(user)
                if self.realm.casefold(event.old_name) != user.folded:
                    given_up = event.old_name
                    self._claim_blind(user.name)
        elif kind is Joined or kind is Left or kind is Kicked:
            if event.user in locals_:
                self._dirty_users.add(event.user)
        elif kind is SettingsChanged:
            for name, _, value in event.changes:
                if name in MEMBER_CHANGES:
                    if value in locals_:
                        self._dirty_users.add(value)
                elif not self.realm.applying_remote:
                    self._dirty_groups.add(event.group)
        elif kind in _USER_EVENTS:
            if event.user in locals_:
                self._dirty_users.add(event.user)
        elif kind in _GROUP_EVENTS:
            if not self.realm.applying_remote:
                self._dirty_groups.add(event.group)
        elif kind is GroupRemoved:
            folded = event.group.folded
            self._dirty_groups.discard(event.group)
            self._gone_groups.add(folded)
            token = self._chan_tokens.pop(folded, None)
            if token is not None:
                self._queue(("script", _RELEASE_CHANOP, [self.keys.chanop(folded)], [token]))
            return None
        else:
            return None
        self._wake.set()
        self._idle.clear()
        return given_up

    def _claim_blind(self, nick: str) -> None:
        """Record a nick taken here without asking first (a service's rename, a gateway user)."""
        keys = self.keys
        folded = self.realm.casefold(nick)
        self._queue(("script", _CLAIM_NICK, [keys.nick(folded), keys.node_nicks(self.node)],
                     [self.node]))

    def _publish_all(self, data: dict[str, Any]) -> None:
        data["n"] = self.node
        data["ts"] = time.time()
        self._queue(("pub", self.keys.all, dumps(data)))

    def _queue(self, item: tuple[Any, ...]) -> None:
        self._out.append(item)
        self._wake.set()
        self._idle.clear()

    # -- writer, reader, heartbeats ----------------------------------------------------------

    async def _writer(self) -> None:
        """Send the queue in order, one pipeline per batch: records first, then messages.

        Records go first so the hashes are never older than what was published:
        a node that reads the snapshot after subscribing misses nothing.
        """
        assert self.redis is not None
        keys = self.keys
        while True:
            await self._wake.wait()
            self._wake.clear()
            if not (self._out or self._dirty_users or self._gone_users or self._dirty_groups
                    or self._gone_groups):
                self._idle.set()
                continue
            out, self._out = self._out, []
            pipe = self.redis.pipeline(transaction=False)
            gone_users, self._gone_users = self._gone_users, set()
            dirty_users, self._dirty_users = self._dirty_users, set()
            gone_groups, self._gone_groups = self._gone_groups, set()
            dirty_groups, self._dirty_groups = self._dirty_groups, set()
            if gone_users:
                pipe.hdel(keys.users, *gone_users)
            if gone_groups:
                pipe.hdel(keys.chans, *gone_groups)
            records = {u.folded: self._user_record(u) for u in dirty_users if u in self._locals}
            if records:
                pipe.hset(keys.users, mapping=records)
            groups = {g.folded: self._group_record(g) for g in dirty_groups
                      if self.realm.groups.get(g.folded) is g}
            if groups:
                pipe.hset(keys.chans, mapping=groups)
            for item in _batched(out, keys.all):
                if item[0] == "pub":
                    pipe.publish(item[1], item[2])
                else:  # a script: EVAL (the asyncio client's Script objects cannot join a pipeline)
                    pipe.eval(item[1], len(item[2]), *item[2], *item[3])
            try:
                await pipe.execute()
                self.published += len(out)
            except (RedisError, OSError) as exc:
                log.error("cluster: %d messages not sent to Redis: %s; resynchronizing when it "
                          "is back", len(out), exc)
                self._resync_needed = True
            except Exception:  # a bug here must not stop every later message
                log.exception("cluster: the writer failed on a batch of %d", len(out))
            if not self._out:
                self._idle.set()
            else:
                self._wake.set()

    def _user_record(self, user: User) -> bytes:
        record = user_record(user)
        record["n"] = self.node
        record["gs"] = [[g.name, g.members.get(user, "")] for g in user.groups.values()]
        return dumps(record)

    def _group_record(self, group: Group) -> bytes:
        record = group_record(group)
        token = self._chan_tokens.get(group.folded)
        if token is not None:
            record["k"] = token
        return dumps(record)

    async def _reader(self, pubsub: Any) -> None:
        """Apply the other nodes' messages, in the order Redis delivers them.

        If the subscription breaks, messages were lost: this reader ends and the
        next heartbeat that reaches Redis resynchronizes with a new one.
        """
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=None)
            except (RedisError, OSError) as exc:
                log.error("cluster: lost the subscription: %s; resynchronizing when Redis is back", exc)
                self._resync_needed = True
                return
            if message is None or message.get("type") != "message":
                continue
            try:
                batch = json.loads(message["data"])
            except ValueError:
                log.error("cluster: not JSON: %r", message.get("data"))
                continue
            for data in batch if isinstance(batch, list) else (batch,):
                try:
                    node = data.get("n")
                    if node != self.node:
                        self._from_node(node, data)
                    elif data.get("t") == "ping" and self._ping_sent is not None:
                        self.lag = time.monotonic() - self._ping_sent
                        self._ping_sent = None
                except Exception:  # one bad message must not stop the reader
                    log.exception("cluster: could not apply %r", data)

    def _from_node(self, node: str, data: dict[str, Any]) -> None:
        kind = data.get("t")
        if kind == "hello":
            self._dead.discard(node)
            self._cleaned.discard(node)
            why = data.get("why", "restarted")
            quit_count = self.applier.quit_node(node, f"*.net *.split {node} {why}")
            if quit_count:
                log.info("node %s restarted: %d of its former users quit", node, quit_count)
            return
        if kind == "bye":
            self.applier.quit_node(node, f"*.net *.split {node} left")
            return
        log.debug("from %s: %s", node, data)
        if node in self._dead:
            return  # a node declared dead speaks again without a hello: ignored until it rejoins
        self.applied += 1
        self.applier.apply(data)

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat)
            try:
                await self._beat()
                await self._watch()
            except (RedisError, OSError, ClusterError) as exc:
                log.error("cluster heartbeat failed: %s", exc)

    async def _beat(self) -> None:
        assert self.redis is not None
        keys = self.keys
        info = {
            "boot": self.boot, "started": self.started_at, "beat": time.time(),
            "clients": len(self._locals), "users": sum(1 for u in self.realm.users.values() if u.online),
            "channels": len(self.realm.groups), "published": self.published, "applied": self.applied,
            "lag": round(self._ping(), 4),
        }
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.alive(self.node), self.boot, px=int(self.settings.dead_after * 1000), get=True)
            pipe.hset(keys.nodes, self.node, json.dumps(info))
            previous, _ = await pipe.execute()
        if self.running and previous is None:
            # Our heartbeat had expired (cut off from Redis, or stopped): the others
            # declared this node dead, quit its users and dropped its claims.
            log.error("node %s was declared dead by the others (no heartbeat for %.0f s); "
                      "rejoining", self.node, self.settings.dead_after)
            await self._rejoin("lost")
        elif self.running and self._resync_needed:
            log.warning("node %s lost messages while Redis was unreachable; resynchronizing",
                        self.node)
            await self._rejoin("rejoined")

    def _ping(self) -> float:
        """Send a ping to our own inbox unless one is under way; the lag to report now.

        A ping not back yet counts for as long as it has been away.
        """
        now = time.monotonic()
        if self._ping_sent is not None:
            return max(self.lag, now - self._ping_sent)
        if self.running:
            self._ping_sent = now
            self._queue(("pub", self.keys.inbox(self.node), dumps({"t": "ping", "n": self.node})))
        return self.lag

    async def _rejoin(self, why: str) -> None:
        """After being declared dead, or losing messages: the others' state, then ours, again.

        What this node holds of the others may be stale (it missed their events),
        so their users quit here and come back from the snapshot; this node's
        users claim their nicks again (one taken meanwhile is disconnected) and
        are announced again with their channels.
        """
        if self._reader_task is not None:
            self._reader_task.cancel()
            await asyncio.gather(self._reader_task, return_exceptions=True)
            self._reader_task = None
        # Set again until this rejoin is through: if Redis fails halfway, the next beat retries.
        self._resync_needed = True
        await self._subscribe()  # before the snapshot, as at start
        self._ping_sent = None  # one under way went to the old subscription
        self._reader_task = asyncio.get_running_loop().create_task(
            self._reader(self._pubsub), name="cluster-reader")
        split = f"*.net *.split {self.node} lost"
        for node in list(self.applier.minds):
            self.applier.quit_node(node, split)
        for user in list(self._locals):
            if not await self.claim_nick(user.name) and user.online:
                close = getattr(user.mind, "close", None)
                if callable(close):
                    close("Nick collision: the nick was taken on another node during a split")
        self._dead.clear()
        self._cleaned.clear()
        await self._load_snapshot()
        self._publish_all({"t": "hello", "boot": self.boot, "why": why})
        groups: set[Group] = set()
        for user in list(self._locals):
            if not user.online:
                continue
            self._queue(("pub", self.keys.all, encode(SignedOn(user=user), self.node)))
            for group in user.groups.values():
                groups.add(group)
                self._queue(("pub", self.keys.all, encode(Joined(group=group, user=user), self.node)))
            self._dirty_users.add(user)
        self._dirty_groups.update(g for g in groups if g.founder is None)
        self._wake.set()
        self._resync_needed = False
        log.info("node %s rejoined: %d users announced again", self.node, len(self._locals))
        for callback in self.on_rejoin:
            try:
                await callback()
            except Exception:  # the rejoin is done; one failed refresh must not undo it
                log.exception("after the rejoin, %r failed", callback)

    async def _watch(self) -> None:
        """Declare dead every node whose heartbeat key expired; forget those long dead."""
        assert self.redis is not None
        keys = self.keys
        infos = {n.decode(): info for n, info in (await self.redis.hgetall(keys.nodes)).items()}
        nodes = set(self.applier.minds) | set(infos)
        nodes.discard(self.node)
        if not nodes:
            return
        ordered = sorted(nodes)
        beats = await self.redis.mget([keys.alive(n) for n in ordered])
        for node, beat in zip(ordered, beats):
            if beat is not None:
                continue
            self.declare_dead(node)
            if node not in self._cleaned:
                await self._cleanup(node, force=False)
                self._cleaned.add(node)  # only once it went through: else again next beat
            elif _last_beat(infos.get(node)) < time.time() - DEAD_NODE_LISTED:
                await self._forget_node(keys=[keys.alive(node), keys.nodes], args=[node])

    def declare_dead(self, node: str) -> None:
        if node not in self._dead:
            self._dead.add(node)
            count = self.applier.quit_node(node, f"*.net *.split {node} lost")
            log.warning("node %s declared dead (its heartbeat expired): %d users quit", node, count)

    # -- IRC front end ------------------------------------------------------------------------

    @property
    def local_clients(self) -> int:
        return len(self._locals)


def _last_beat(info: bytes | None) -> float:
    """When a node's heartbeat record (JSON in the nodes hash) was written; 0 if unknown."""
    try:
        return float(json.loads(info)["beat"]) if info else 0.0
    except (ValueError, KeyError, TypeError):
        return 0.0


def _refuse_nick(conn: Any, nick: str, held: bool | None) -> None:
    """433 when another node holds the nick; 437 when Redis could not be asked."""
    if held is None:
        conn.numeric("437", nick, "Nick is temporarily unavailable: the cluster cannot be reached")
    else:
        conn.numeric("433", nick, "Nickname is already in use")


def _batched(out: list[tuple[Any, ...]], all_channel: str) -> list[tuple[Any, ...]]:
    """The writer's queue with messages merged: one PUBLISH (a JSON list) per channel per run.

    Under load a batch holds many messages for the same nodes: merged, they
    cost one PUBLISH, and each subscriber reads one message instead of many.
    Order still holds for every subscriber: a node hears `all_channel` and its
    own inbox, so messages to different inboxes may be regrouped, but nothing
    moves across a message to all nodes (or a script).
    """
    merged: list[tuple[Any, ...]] = []
    inboxes: dict[str, list[bytes]] = {}  # since the last message to all: per inbox, in order
    to_all: list[bytes] = []

    def one(payloads: list[bytes]) -> bytes:
        return payloads[0] if len(payloads) == 1 else b"[" + b",".join(payloads) + b"]"

    def close_inboxes() -> None:
        merged.extend(("pub", channel, one(payloads)) for channel, payloads in inboxes.items())
        inboxes.clear()

    def close_all() -> None:
        if to_all:
            merged.append(("pub", all_channel, one(to_all)))
            to_all.clear()

    for item in out:
        if item[0] != "pub":
            close_inboxes()
            close_all()
            merged.append(item)
        elif item[1] == all_channel:
            close_inboxes()
            to_all.append(item[2])
        else:
            close_all()
            inboxes.setdefault(item[1], []).append(item[2])
    close_inboxes()
    close_all()
    return merged


def _is_service(user: User) -> bool:
    """NickServ and ChanServ run on every node; they are never published or claimed.

    By name too: after a Quit the user has no mind left to tell.
    """
    from words.services import SERVICE_NAMES
    from words.services.base import ServiceBot

    return isinstance(user.mind, ServiceBot) or user.name in SERVICE_NAMES
