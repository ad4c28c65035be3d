"""bridge: the IRC <-> XMPP gateway and relay (see issue 7)."""
