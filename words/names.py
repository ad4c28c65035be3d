"""What a nick and a channel name may be, and when two nicks look the same.

Nicks (`nick_charset` in the config):
- ``ascii`` (the default, RFC 2812): a letter or one of ``[]\\`_^{|}`` first,
  then letters, digits, those specials and ``-``;
- ``utf8``: the same, where a letter is a letter of any script (Unicode
  category L*) and a digit any decimal digit (Nd); combining marks (Mn, Mc)
  may follow the first character. Nothing else: no spaces, controls,
  zero-width or other format characters, symbols or emoji.

Confusables: with ``utf8`` nicks, a nick whose *skeleton* equals the skeleton
of a nick in use by someone else is refused (433), so ``раypal`` (Cyrillic р
and а) cannot pose as ``paypal``. The skeleton, after Unicode TR39 but
smaller and documented here:

1. NFKD: compatibility forms become plain letters (fullwidth ``ａ``, math
   ``𝐚``, ligature ``ﬁ``), and accents split from their letters;
2. combining marks are dropped, so ``José`` and ``Jose`` are one skeleton
   (stricter than TR39: an accent is easy to miss in a nick list);
3. every character in `CONFUSABLES` becomes the ASCII letter it looks like
   (Cyrillic and Greek letters that look Latin, dotless i, script a and g);
4. Unicode casefold, then the server's CASEMAPPING (rfc1459 folds ``[]\\~``).

ASCII nicks keep their plain rules: among ASCII letters nothing is mapped
(``l`` and ``I`` stay different, as every IRC server has them).

Channel names (`channel_charset`): ``#`` then at most CHANNELLEN characters,
- ``rfc`` (the default, RFC 2812): anything but space, comma, colon and BEL;
- ``ascii``: printable ASCII only (``!`` to ``~``), no comma or colon;
- ``utf8``: letters, marks, digits, punctuation and symbols of any script,
  but no spaces, controls, format (zero-width) or unassigned characters,
  no comma or colon.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from functools import lru_cache

NICK_CHARSETS = ("ascii", "utf8")
CHANNEL_CHARSETS = ("rfc", "ascii", "utf8")

_SPECIAL = frozenset("[]\\`_^{|}")
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_ASCII_FIRST = _ASCII_LETTERS | _SPECIAL
_ASCII_REST = _ASCII_FIRST | frozenset("0123456789-")

# Letters of other scripts that look like an ASCII letter, in either case
# (the common Latin/Cyrillic/Greek look-alikes of Unicode's confusables.txt).
CONFUSABLES: dict[str, str] = {
    # Cyrillic capitals
    "А": "A", "В": "B", "Е": "E", "Ѕ": "S", "І": "I", "Ј": "J", "К": "K", "М": "M",
    "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T", "У": "Y", "Х": "X", "Ү": "Y",
    "Ԛ": "Q", "Ԝ": "W", "Ӏ": "l",
    # Cyrillic small letters
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "ѕ": "s",
    "і": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w", "һ": "h", "ӏ": "l", "ү": "y",
    # Greek capitals
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M",
    "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
    # Greek small letters
    "α": "a", "ο": "o", "ρ": "p", "ι": "i", "ν": "v", "υ": "u", "γ": "y", "ϲ": "c",
    "ϳ": "j",
    # Latin letters outside ASCII
    "ı": "i", "ɑ": "a", "ɡ": "g", "ȷ": "j",
}
_CONFUSABLES_TABLE = str.maketrans(CONFUSABLES)


def valid_nick(nick: str, maxlen: int, charset: str = "ascii") -> bool:
    """Is `nick` a nick under `charset` (module docstring), at most `maxlen` characters?"""
    if not 0 < len(nick) <= maxlen:
        return False
    if nick.isascii():
        return nick[0] in _ASCII_FIRST and all(c in _ASCII_REST for c in nick)
    if charset != "utf8":
        return False
    first = nick[0]
    if not (first in _SPECIAL or unicodedata.category(first).startswith("L")):
        return False
    return all(c in _ASCII_REST or _utf8_nick_char(c) for c in nick[1:])


def _utf8_nick_char(char: str) -> bool:
    category = unicodedata.category(char)
    return category[0] == "L" or category in ("Mn", "Mc", "Nd")


def valid_channel_name(name: str, maxlen: int, charset: str = "rfc") -> bool:
    """Is `name` a channel name under `charset` (module docstring)?"""
    if not (1 < len(name) <= maxlen and name[0] == "#"):
        return False
    if charset == "ascii":
        return all("!" <= c <= "~" and c not in ",:" for c in name)
    if any(c in name for c in " ,\x07:"):
        return False
    if charset == "utf8":
        return all(unicodedata.category(c)[0] not in "CZ" for c in name)
    return True


@lru_cache(maxsize=65536)
def _skeleton(nick: str) -> str:
    decomposed = unicodedata.normalize("NFKD", nick)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", bare.translate(_CONFUSABLES_TABLE).casefold())


def skeleton(nick: str, casefold: Callable[[str], str]) -> str:
    """The form two look-alike nicks share (module docstring); `casefold` is the realm's."""
    if nick.isascii():
        return casefold(nick)  # ASCII keeps its plain rules
    return casefold(_skeleton(nick))


class SkeletonIndex:
    """Which user holds each skeleton, kept from the realm's sign-ons, renames and quits."""

    def __init__(self, casefold: Callable[[str], str]) -> None:
        self.casefold = casefold
        self._owners: dict[str, object] = {}

    def add(self, nick: str, user: object) -> None:
        key = skeleton(nick, self.casefold)
        folded = getattr(user, "folded", None)
        if key == folded:
            key = folded  # the user's own string, not a second copy of it
        self._owners.setdefault(key, user)

    def remove(self, nick: str, user: object) -> None:
        key = skeleton(nick, self.casefold)
        if self._owners.get(key) is user:
            del self._owners[key]

    def owner(self, nick: str) -> object | None:
        """The user whose nick looks like `nick`, if any."""
        return self._owners.get(skeleton(nick, self.casefold))

    def __len__(self) -> int:
        return len(self._owners)
