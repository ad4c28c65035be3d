"""IRC command handlers, one module per concern; each registers in words.irc.commands."""
