"""The tables. Changes to them go through migrations.py, never by editing a released step."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, nullable=False),
)

accounts = Table(
    "accounts", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("folded", String(64), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("created", Float, nullable=False),
    Column("last_seen", Float),
    # SCRAM-SHA-256 verifier (RFC 5802/7677), only when SCRAM is enabled.
    Column("scram", Text),
)

account_certs = Table(
    "account_certs", metadata,
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("fingerprint", String(64), nullable=False, unique=True),  # SHA-256, lower-case hex
)

channels = Table(
    "channels", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(64), nullable=False),
    Column("folded", String(64), nullable=False, unique=True),
    Column("founder", String(64), nullable=False),  # folded account name
    Column("created", Float, nullable=False),
    Column("topic", Text, nullable=False, default=""),
    Column("topic_author", String(200), nullable=False, default=""),
    Column("topic_time", Float, nullable=False, default=0.0),
    # Flags, key and limit as JSON: {"moderated": true, "key": "x", "limit": 10}.
    Column("settings", Text, nullable=False, default="{}"),
)

channel_masks = Table(
    "channel_masks", metadata,
    Column("channel_id", Integer, ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # ban, exception, invex
    Column("mask", String(300), nullable=False),
    Column("folded", String(300), nullable=False),
    Column("set_by", String(300), nullable=False),
    Column("set_at", Float, nullable=False),
    UniqueConstraint("channel_id", "kind", "folded"),
)

channel_access = Table(
    "channel_access", metadata,
    Column("channel_id", Integer, ForeignKey("channels.id", ondelete="CASCADE"), nullable=False),
    Column("account", String(64), nullable=False),  # folded account name
    Column("level", String(16), nullable=False),  # op, voice
    UniqueConstraint("channel_id", "account"),
)

# K-lines (kind "k", mask user@host) and D-lines (kind "d", mask an address or
# CIDR); `expires` NULL for a permanent one. Added by migration step 2.
server_bans = Table(
    "server_bans", metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(1), nullable=False),
    Column("mask", String(300), nullable=False),
    Column("folded", String(300), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("set_by", String(300), nullable=False),
    Column("set_at", Float, nullable=False),
    Column("expires", Float),
    UniqueConstraint("kind", "folded"),
)

# History (words.store.history): what was said and done in channels and private
# conversations, pruned by age and count. `id` is the order CHATHISTORY pages by.
# `conversation` is a channel's folded name or a private conversation's key; a private
# record has its two parties (`party_a` <= `party_b`) and the sender's (`party`).
# `subject` is the folded account the record is about (past members). The rest of
# the record is JSON in `data`. Added by migration step 3.
history = Table(
    "history", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation", String(300), nullable=False),
    Column("msgid", String(64), nullable=False),
    Column("time", Float, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("party_a", String(300)),
    Column("party_b", String(300)),
    Column("party", String(300)),
    Column("subject", String(64)),
    Column("data", Text, nullable=False),
    Index("history_conversation_id", "conversation", "id"),
    Index("history_conversation_time", "conversation", "time"),
    Index("history_msgid", "msgid"),
    Index("history_party_a", "party_a"),
    Index("history_party_b", "party_b"),
    Index("history_time", "time"),
)

# Bare JIDs bound to accounts through the XMPP gateway's registration form
# (lower-cased). Added by migration step 4.
account_jids = Table(
    "account_jids", metadata,
    Column("account_id", Integer, ForeignKey("accounts.id", ondelete="CASCADE"), nullable=False),
    Column("jid", String(1024), nullable=False, unique=True),
)
