"""The in-memory words realm: everything is forgotten on restart."""

from __future__ import annotations

from words.realm.service import WordsRealm


class InMemoryWordsRealm(WordsRealm):
    """Twisted's InMemoryWordsRealm: users and groups live in this process only.

    All state already lives in memory in `WordsRealm`; this class adds no
    store. The SQL realm keeps the same state and persists what must last.
    """
