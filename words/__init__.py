"""words: a chat platform on asyncio, heir of Twisted Words and Twisted Cred."""

__version__ = "0.1.0"
