"""REGISTER: IRCv3 draft/account-registration.

`REGISTER <account|*> <email|*> <password>`, before or after the connection
completes. The rules are words.services' Registrar (the same as NickServ
REGISTER); the answer comes once the store has committed the account:
`REGISTER SUCCESS <account> :<message>` and 900 (logged in), or a standard
reply `FAIL REGISTER <CODE> <account> :<text>`. No e-mail is asked for or
verified; an address given is only checked for an @.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from words.irc import numerics as N
from words.irc.commands import command
from words.irc.handlers import ircv3
from words.realm import ChatAvatar
from words.services.accounts import RegistrationError

if TYPE_CHECKING:
    from words.irc.codec import Message
    from words.irc.connection import IRCConnection


def fail(conn: IRCConnection, code: str, context: str, text: str) -> None:
    ircv3.fail(conn, "REGISTER", code, context, text)


@command("REGISTER", min_params=3, needs_registration=False)
def handle_register(conn: IRCConnection, msg: Message) -> None:
    account, email, password = msg.params[:3]
    services = getattr(conn.server, "services", None)
    if services is None or not services.registrar.open:
        fail(conn, "TEMPORARILY_UNAVAILABLE", account,
             "Registration is closed on this server; ask an operator")
        return
    current = conn.user.account if conn.user is not None else (
        conn.avatar.account if conn.avatar is not None else None
    )
    if current:
        fail(conn, "ALREADY_AUTHENTICATED", current, f"You are already logged in as {current}")
        return
    if account == "*":
        if not conn.nick:
            fail(conn, "NEED_NICK", "*", "Send NICK first, or name the account")
            return
        account = conn.nick
    if email != "*" and ("@" not in email or " " in email):
        fail(conn, "INVALID_EMAIL", account, "That is not an e-mail address")
        return
    registrar = services.registrar
    try:
        registrar.check_name(account)
        registrar.check_password(password)
    except RegistrationError as exc:
        fail(conn, exc.code, account, exc.text)
        return
    # Hashing and the commit run off the loop; later lines wait for the answer.
    conn.run_holding_input(_register(conn, account, password))


async def _register(conn: IRCConnection, name: str, password: str) -> None:
    server = conn.server
    try:
        account = await server.services.registrar.register(name, password)
    except RegistrationError as exc:
        if not conn.closing:
            fail(conn, exc.code, name, exc.text)
        return
    except Exception:
        conn.log.exception("REGISTER %s could not be stored", name)
        if not conn.closing:
            fail(conn, "TEMPORARILY_UNAVAILABLE", name, "Accounts are unavailable right now, try later")
        return
    conn.log.info("registered the account %s", account.name)
    if conn.closing:
        return  # the account exists; the client just did not wait to hear it
    name = account.name
    if conn.user is not None:
        conn.send("REGISTER", "SUCCESS", name, "Account created", source=server.name)
        server.realm.set_account(conn.user, name)  # 900 comes from the realm's event
        return
    # Before the connection completes: it will sign on logged in, as after SASL.
    _, avatar, _ = await server.realm.request_avatar(name, conn, ChatAvatar)
    conn.avatar = avatar
    conn.send("REGISTER", "SUCCESS", name, "Account created", source=server.name)
    mask = f"{conn.nick or '*'}!{conn.username or '*'}@{conn.peer_host}"
    conn.numeric(N.RPL_LOGGEDIN, mask, name, f"You are now logged in as {name}")

