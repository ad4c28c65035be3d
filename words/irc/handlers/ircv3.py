"""Commands that come with IRCv3 capabilities: SETNAME (setname).

Failures are standard replies: `FAIL <command> <CODE> [context] :text`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from words.irc.commands import command

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection

# The longest real name SETNAME accepts, in characters.
REALNAME_LEN = 250


def safe_context(context_and_text: tuple[str, ...]) -> list[str]:
    """Context echoed from the client that cannot be a middle parameter (empty, with a
    space, starting with ':') becomes '*', as in numerics; the text stays last."""
    *context, text = context_and_text
    return [p if p and " " not in p and p[0] != ":" else "*" for p in context] + [text]


def fail(conn: IRCConnection, command_name: str, code: str, *context_and_text: str) -> None:
    """A standard reply FAIL: the command, a machine-readable code, context, a description."""
    conn.send("FAIL", command_name, code, *safe_context(context_and_text), source=conn.server.name)


@command("SETNAME")
def handle_setname(conn: IRCConnection, msg: Message) -> None:
    """SETNAME :new real name; those sharing a channel (and the sender) with setname see it."""
    user = conn.user
    assert user is not None
    realname = msg.params[0] if msg.params else ""
    if not realname or len(realname) > REALNAME_LEN:
        fail(conn, "SETNAME", "INVALID_REALNAME", "Realname is not valid")
        return
    if realname == user.realname:
        # Nothing changes, but a setname client still gets its confirmation.
        if "setname" in conn.caps:
            conn.send("SETNAME", realname, source=f"{user.name}!{user.username}@{user.host}")
        return
    conn.server.realm.set_realname(user, realname)
