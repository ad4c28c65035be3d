"""The relay: IRC channels on any network paired with MUC rooms on any XMPP server.

    bridge run config/bridge.yaml

Modules: config (the YAML file), text (formats, cleaning, splitting), pair
(what goes between one channel and one room), irc and xmpp (one connection
per network or account, shared by the pairs), service (the process).
"""

from __future__ import annotations

from bridge.relay.config import ConfigError, RelayConfig, load_config
from bridge.relay.service import Relay

__all__ = ["ConfigError", "Relay", "RelayConfig", "load_config"]
