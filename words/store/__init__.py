"""What must last: accounts, registered channels and server bans, in SQL through SQLAlchemy."""

from words.store.accounts import Account, AccountStore, DuplicateAccount
from words.store.channels import ChannelRecord, ChannelStore
from words.store.database import Database, StoreError
from words.store.migrations import SCHEMA_VERSION, SchemaError, check_schema, upgrade
from words.store.serverbans import ServerBanRecord, ServerBanStore

__all__ = [
    "SCHEMA_VERSION", "Account", "AccountStore", "ChannelRecord", "ChannelStore", "Database",
    "DuplicateAccount", "SchemaError", "ServerBanRecord", "ServerBanStore", "StoreError", "check_schema", "upgrade",
]
