"""words.cluster: several words nodes as one network, on PostgreSQL and Redis.

PostgreSQL holds what lasts (the SQL realm as on one node); Redis carries what
is live: who is on which node (claims, a snapshot for joining nodes), the
events each node publishes for the others, and heartbeats. See link.py.
"""


class ClusterError(RuntimeError):
    """The cluster cannot be joined (Redis unreachable, the node name in use)."""
