"""IRCv3 capability negotiation: what the server offers, and CAP LS/LIST/REQ/END.

A capability is offered only when it fully works (and is tested, in
tests/words/irc/test_ircv3_*.py): cap-notify, sasl (its value lists the
mechanisms this server can complete), draft/account-registration (REGISTER;
its value lists its keys), and the set in `IRCV3_CAPS`.

msgid and the `bot` tag are no capabilities: they come with message-tags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from words.cred import UsernamePassword

if TYPE_CHECKING:
    from words.irc.connection import IRCConnection
    from words.irc.server import IRCServer

# Offered always, after cap-notify, sasl and draft/account-registration.
IRCV3_CAPS = (
    "server-time",
    "message-tags",
    "account-tag",
    "echo-message",
    "multi-prefix",
    "userhost-in-names",
    "extended-join",
    "away-notify",
    "account-notify",
    "invite-notify",
    "setname",
    "chghost",
    "extended-monitor",
    "standard-replies",
    "batch",
    "labeled-response",
)

# CAP LS replies are split so that each line stays well under 512 bytes.
_LS_CHUNK = 400


def sasl_mechanisms(server: IRCServer, conn: IRCConnection | None = None) -> list[str]:
    """The SASL mechanisms this server can complete (for `conn`, if given)."""
    from words.cred.sasl import CertificateFingerprint, VerifiedAccount

    interfaces = server.portal.list_credentials_interfaces()
    mechanisms = []
    if UsernamePassword in interfaces:
        mechanisms.append("PLAIN")
    if CertificateFingerprint in interfaces and server.config.tls_enabled:
        mechanisms.append("EXTERNAL")
    if VerifiedAccount in interfaces and server.config.scram:
        mechanisms.append("SCRAM-SHA-256")
    return mechanisms


def offered(server: IRCServer, conn: IRCConnection | None = None) -> dict[str, str | None]:
    """The capabilities offered (to `conn`: sts differs on TLS and plaintext connections)."""
    caps: dict[str, str | None] = {"cap-notify": None}
    mechanisms = sasl_mechanisms(server)
    if mechanisms:
        caps["sasl"] = ",".join(mechanisms)
    registration = account_registration(server)
    if registration is not None:
        caps["draft/account-registration"] = registration
    for name in IRCV3_CAPS:
        caps[name] = None
    if getattr(server.realm, "history", None) is not None:
        # History (words.irc.handlers.chathistory): CHATHISTORY, and JOIN/PART/... in its batches.
        caps["draft/chathistory"] = None
        caps["draft/event-playback"] = None
    sts = server.config.sts
    if sts is not None:
        # IRCv3 sts: plaintext clients learn where TLS is; TLS clients how long to insist.
        if conn is not None and conn.secure:
            caps["sts"] = f"duration={sts.duration}" + (",preload" if sts.preload else "")
        else:
            caps["sts"] = f"port={sts.port}"
    return caps


# Advertised only: a client never requests these.
NOT_REQUESTABLE = frozenset({"sts"})


def account_registration(server: IRCServer) -> str | None:
    """The draft/account-registration value (its keys), or None when registration is closed.

    REGISTER works before the connection completes (`before-connect`) and for
    any account name (`custom-account-name`); no e-mail is required.
    """
    if not server.config.services.registration:
        return None
    return "before-connect,custom-account-name"


def handle_cap(conn: IRCConnection, sub: str, args: list[str]) -> None:
    server = conn.server
    nick = conn.nick or "*"
    caps = offered(server, conn)
    if sub == "LS":
        if conn.user is None:
            conn.cap_negotiating = True
        # ASCII digits only: str.isdigit() is true for '¹302', which int() refuses.
        version = int(args[0]) if args and args[0].isascii() and args[0].isdigit() else 301
        conn.cap_version = max(conn.cap_version, version)
        if conn.cap_version >= 302:
            conn.caps |= {"cap-notify"}  # implied by CAP LS 302 (a new frozenset: see NO_CAPS)
        items = [
            f"{name}={value}" if value and conn.cap_version >= 302 else name
            for name, value in caps.items()
        ]
        _send_chunked(conn, nick, "LS", items)
    elif sub == "LIST":
        _send_chunked(conn, nick, "LIST", sorted(conn.caps))
    elif sub == "REQ":
        if conn.user is None:
            conn.cap_negotiating = True
        requested = args[0] if args else ""
        wanted = requested.split()
        # All or nothing (IRCv3): one unknown capability refuses the whole request.
        if not wanted or any(
            name.lstrip("-") not in caps or name.lstrip("-") in NOT_REQUESTABLE for name in wanted
        ):
            conn.send("CAP", nick, "NAK", requested, source=server.name)
            return
        enabled = set(conn.caps)
        for name in wanted:
            if name == "-cap-notify" and conn.cap_version >= 302:
                continue  # implied by CAP LS 302, and then never disabled
            if name.startswith("-"):
                enabled.discard(name[1:])
            else:
                enabled.add(name)
        conn.caps = frozenset(enabled)
        conn.caps_changed()  # the render key follows the caps
        conn.send("CAP", nick, "ACK", requested, source=server.name)
    elif sub == "END":
        if conn.cap_negotiating:
            conn.cap_negotiating = False
            _abort_sasl(conn)
            conn.try_register()
    else:
        from words.irc import numerics as N

        conn.numeric(N.ERR_INVALIDCAPCMD, sub, "Invalid CAP command")


def announce_changes(server: IRCServer, before: dict[str, str | None]) -> None:
    """cap-notify: tell clients what `offered` gained (NEW) or lost (DEL) since `before`.

    Call it with `offered(server)` from before a change (REHASH). A capability
    whose value changed is announced again with NEW; one that went is cancelled
    for every client that had it.
    """
    after = offered(server)
    new = [name for name, value in after.items() if name not in before or before[name] != value]
    gone = [name for name in before if name not in after]
    if not new and not gone:
        return
    for conn in list(server.connections):
        if gone and conn.caps.intersection(gone):
            conn.caps = conn.caps.difference(gone)
            conn.caps_changed()
        if "cap-notify" not in conn.caps:
            continue
        nick = conn.nick or "*"
        if gone:
            conn.send("CAP", nick, "DEL", " ".join(gone), source=server.name)
        if new:
            values = offered(server, conn)
            items = [
                f"{name}={values[name]}" if values[name] and conn.cap_version >= 302 else name
                for name in new
            ]
            conn.send("CAP", nick, "NEW", " ".join(items), source=server.name)


def _abort_sasl(conn: IRCConnection) -> None:
    """IRCv3 sasl: registration completing during an exchange aborts it (906).

    The exchange gets a new session, so a step still being checked drops its
    result instead of logging the registered connection in behind its back.
    """
    from words.irc import numerics as N
    from words.irc.handlers.sasl import SaslSession

    session = conn.sasl
    if session is not None and session.mechanism:
        conn.sasl = SaslSession("", failures=session.failures)
        conn.numeric(N.ERR_SASLABORTED, "SASL authentication aborted")


def _send_chunked(conn: IRCConnection, nick: str, sub: str, items: list[str]) -> None:
    lines: list[list[str]] = [[]]
    size = 0
    for item in items:
        if lines[-1] and size + len(item) + 1 > _LS_CHUNK:
            lines.append([])
            size = 0
        lines[-1].append(item)
        size += len(item) + 1
    for i, chunk in enumerate(lines):
        more = i < len(lines) - 1 and conn.cap_version >= 302
        params = [nick, sub, "*", " ".join(chunk)] if more else [nick, sub, " ".join(chunk)]
        conn.send("CAP", *params, source=conn.server.name)
