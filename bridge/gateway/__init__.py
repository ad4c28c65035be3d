"""The XMPP gateway: XMPP users in the words realm, through an XEP-0114 component.

`words serve` starts it when the config has an `xmpp:` section.
"""

from __future__ import annotations

from bridge.gateway.gateway import Gateway

__all__ = ["Gateway"]
