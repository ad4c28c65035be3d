"""Host cloaking: the host other users see is an HMAC of the address, not the address.

`cloak: {secret: ..., suffix: ip}` in the config turns it on. The cloak of an
address is HMAC-SHA256(secret, address), its first 16 hex digits written as
two dotted groups and the suffix: `a1b2c3d4.e5f6a7b8.ip`. It is stable for one
address (and one secret), so bans on it keep working, and nobody without the
secret can go back from it to the address. The real address stays on the
connection (`peer_host`) and the realm user (`real_host`), which only opers
see (WHOIS 338). A REHASH that changes the cloak re-cloaks everyone at once.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from words.config import Cloak
    from words.irc.server import IRCServer


def cloak_host(address: str, secret: str, suffix: str = "ip") -> str:
    digest = hmac.new(secret.encode(), address.lower().encode(), hashlib.sha256).hexdigest()
    return f"{digest[:8]}.{digest[8:16]}.{suffix}"


def recloak(server: IRCServer, old: Cloak | None) -> None:
    """After a REHASH changed `cloak` (from `old`), show every user with its new cloak.

    Each change is a realm HostChanged, so others see CHGHOST (or its
    fallback). A user shown with a host CHGHOST gave (neither the old cloak
    nor the address) keeps it.
    """
    new = server.config.cloak
    if new == old:
        return
    for conn in list(server.connections):
        user = conn.user
        if user is None or conn.closing:
            continue
        was = cloak_host(conn.peer_host, old.secret, old.suffix) if old else conn.peer_host
        if user.host == was:
            server.realm.set_host(user, user.username, conn.visible_host)
