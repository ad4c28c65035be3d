"""Every Redis key and pub/sub channel of one words network, in one place.

All start with the network's prefix (`cluster.prefix`): pub/sub ignores the
database number, so the prefix is what keeps two networks on one Redis apart.
"""

from __future__ import annotations


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.nodes = f"{prefix}:nodes"  # hash: node -> its last heartbeat (JSON)
        self.users = f"{prefix}:users"  # hash: folded nick -> user record with its node (JSON)
        self.chans = f"{prefix}:chans"  # hash: folded channel -> topic, modes, lists (JSON)
        self.all = f"{prefix}:all"  # pub/sub: events every node applies

    def alive(self, node: str) -> str:
        """A node's heartbeat: its boot id, expiring `dead_after` seconds after the last beat."""
        return f"{self.prefix}:alive:{node}"

    def inbox(self, node: str) -> str:
        """Pub/sub: messages for a node's users only (channel and private messages)."""
        return f"{self.prefix}:to:{node}"

    def nick(self, folded: str) -> str:
        """A nick claim: the node whose user holds the nick (SET NX)."""
        return f"{self.prefix}:nick:{folded}"

    def node_nicks(self, node: str) -> str:
        """Set: the nick claim keys a node holds (released when it dies)."""
        return f"{self.prefix}:nicks:{node}"

    def chanop(self, folded: str) -> str:
        """A first-joiner claim on a new channel: one node's token (SET NX)."""
        return f"{self.prefix}:chanop:{folded}"
