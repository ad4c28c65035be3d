"""bots: a bot framework on the IRC client protocol (see issue 6)."""
