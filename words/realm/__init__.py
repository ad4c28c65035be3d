"""The words realm: users, groups and the event stream every front end shares."""

from words.realm.errors import (
    DuplicateGroup,
    DuplicateUser,
    NoSuchGroup,
    NoSuchUser,
    NotInGroup,
    RealmError,
)
from words.realm.events import (
    Event,
    GroupCreated,
    GroupRemoved,
    Joined,
    Left,
    MetaChanged,
    Quit,
    Renamed,
    Said,
    SignedOn,
    UserCreated,
)
from words.realm.memory import InMemoryWordsRealm
from words.realm.model import ChatClient, Group, User
from words.realm.service import ChatAvatar, WordsRealm

__all__ = [
    "ChatAvatar", "ChatClient", "DuplicateGroup", "DuplicateUser", "Event", "Group",
    "GroupCreated", "GroupRemoved", "InMemoryWordsRealm", "Joined", "Left",
    "MetaChanged", "NoSuchGroup", "NoSuchUser", "NotInGroup", "Quit", "RealmError",
    "Renamed", "Said", "SignedOn", "User", "UserCreated", "WordsRealm",
]
