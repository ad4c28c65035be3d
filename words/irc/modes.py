"""IRC mode letters <-> the realm's protocol-neutral settings.

The realm speaks of "moderated", "ban" or "op"; IRC speaks of +m, +b and +o.
This module is the one place that maps between them, both ways: parsing a
MODE command into realm changes and rendering realm changes as MODE lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from words.realm import Group, User

# CHANMODES types (ISUPPORT): A lists, B always a parameter, C a parameter
# when set, D flags. Status modes (PREFIX) take a nick.
LIST_MODES = {"b": "ban", "e": "exception", "I": "invex"}
KEY_MODES = {"k": "key"}  # type B
LIMIT_MODES = {"l": "limit"}  # type C
FLAG_MODES = {
    "i": "invite_only", "m": "moderated", "n": "no_external", "p": "private",
    "r": "registered_only", "s": "secret", "t": "topic_locked",
}
STATUS_MODES = {"o": "op", "v": "voice"}
PREFIXES = {"o": "@", "v": "+"}

CHANMODES_TOKEN = "beI,k,l," + "".join(sorted(FLAG_MODES))
ALL_CHANNEL_MODES = "".join(sorted({*LIST_MODES, *KEY_MODES, *LIMIT_MODES, *FLAG_MODES, *STATUS_MODES}))

USER_MODES = {"B": "bot", "i": "invisible", "o": "operator", "w": "wallops"}
USER_MODE_LETTERS = {flag: letter for letter, flag in USER_MODES.items()}

_LETTERS = {
    name: letter
    for table in (LIST_MODES, KEY_MODES, LIMIT_MODES, FLAG_MODES, STATUS_MODES)
    for letter, name in table.items()
}


@dataclass(slots=True)
class ModeRequest:
    """One mode of a MODE command: `letter` with sign and parameter (if any)."""

    add: bool
    letter: str
    param: str | None


def parse_channel_modes(modestring: str, params: list[str]) -> tuple[list[ModeRequest], list[str]]:
    """Split a MODE string and its parameters; returns (requests, unknown letters).

    A list mode without a parameter is a list query (param None). A mode that
    needs a parameter and has none is dropped, as ircds do.
    """
    requests: list[ModeRequest] = []
    unknown: list[str] = []
    add = True
    args = iter(params)
    for letter in modestring:
        if letter in "+-":
            add = letter == "+"
        elif letter in LIST_MODES:
            requests.append(ModeRequest(add, letter, next(args, None)))
        elif letter in STATUS_MODES or letter in KEY_MODES:
            param = next(args, None)
            if param is not None or (letter in KEY_MODES and not add):
                requests.append(ModeRequest(add, letter, param))
        elif letter in LIMIT_MODES:
            param = next(args, None) if add else None
            if param is not None or not add:
                requests.append(ModeRequest(add, letter, param))
        elif letter in FLAG_MODES:
            requests.append(ModeRequest(add, letter, None))
        elif letter not in unknown:
            unknown.append(letter)
    return requests, unknown


def mode_string(group: Group, *, show_key: bool) -> tuple[str, list[str]]:
    """The current channel modes for RPL_CHANNELMODEIS: ('+klnt', ['key', '10'])."""
    settings = group.settings
    letters = "".join(sorted(l for l, name in FLAG_MODES.items() if getattr(settings, name)))
    params: list[str] = []
    if settings.key is not None:
        letters += "k"
        params.append(settings.key if show_key else "*")
    if settings.limit is not None:
        letters += "l"
        params.append(str(settings.limit))
    return "+" + letters, params


def render_changes(changes: list[tuple[str, bool, Any]], max_params: int) -> Iterator[list[str]]:
    """Realm changes -> MODE parameter lists (modestring, params...), at most `max_params` each."""
    letters: list[str] = []
    params: list[str] = []
    sign = ""
    for name, add, value in changes:
        param = _param(name, add, value)
        if param is not None and len(params) >= max_params:
            yield ["".join(letters), *params]
            letters, params, sign = [], [], ""
        want = "+" if add else "-"
        if want != sign:
            letters.append(want)
            sign = want
        letters.append(_LETTERS[name])
        if param is not None:
            params.append(param)
    if letters:
        yield ["".join(letters), *params]


def _param(name: str, add: bool, value: Any) -> str | None:
    if isinstance(value, User):
        return value.name
    if name == "key":
        return value if add else "*"
    if name == "limit":
        return str(value) if add else None
    return value  # masks; None for flags


def user_mode_string(user: User) -> str:
    return "+" + "".join(sorted(USER_MODE_LETTERS[f] for f in user.flags if f in USER_MODE_LETTERS))
