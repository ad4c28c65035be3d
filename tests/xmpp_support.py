"""A real Prosody for the XMPP tests, and slixmpp clients set up for loopback.

Facts behind the config: ../shared/design/xmpp-testing.md. Prosody runs in the
foreground from a temporary directory on free loopback ports; it can be
stopped and started again on the same ports (the gateway's reconnect tests).
Given a certificate, it also offers STARTTLS on the client port and direct TLS
on a port of its own; cleartext logins stay allowed either way.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from pathlib import Path

from support import ensure_system_package, free_port, wait_for_port

DOMAIN = "localhost"
# A second host, for users of a domain other than the gateway's trusted one.
OTHER_DOMAIN = "elsewhere.localhost"
MUC_DOMAIN = "conference.localhost"
COMPONENT_DOMAIN = "irc.localhost"

CONFIG = """\
-- Written by the words test suite: a loopback Prosody (TLS only if given a certificate),
-- nothing outside {workdir}.
run_as_root = true
pidfile = "{workdir}/prosody.pid"
data_path = "{workdir}/data"
certificates = "{workdir}/certs"
log = {{ debug = "{workdir}/prosody.log" }}
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {c2s_port} }}
c2s_direct_tls_ports = {{ {direct_tls_port} }}
{tls}component_interfaces = {{ "127.0.0.1" }}
component_ports = {{ {component_port} }}
modules_disabled = {{ "s2s" }}
modules_enabled = {{ "roster", "saslauth", "disco", "ping", "register", "mam"{tls_module} }}
c2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = false
authentication = "internal_hashed"
storage = "internal"

VirtualHost "{domain}"

VirtualHost "{other_domain}"

Component "{muc_domain}" "muc"
    modules_enabled = {{ "muc_mam" }}
    -- New rooms open at once (no owner configuration step), as tests create them by joining.
    muc_room_locking = false

Component "{component_domain}"
    component_secret = "{secret}"
"""


class ProsodyServer:
    """One Prosody process and its ports; `stop()`/`start()` keep the ports and the data.

    `certificate`: (certificate file, key file) for TLS, e.g. made with trustme for
    localhost; then `direct_tls_port` takes direct TLS (XEP-0368). Without: no TLS."""

    def __init__(self, secret: str = "gateway-secret",
                 certificate: tuple[str, str] | None = None) -> None:
        self.binary = ensure_system_package("prosody", "prosody")
        self.ctl = shutil.which("prosodyctl") or "/usr/bin/prosodyctl"
        self.workdir = Path(tempfile.mkdtemp(prefix="words-prosody-"))
        (self.workdir / "data").mkdir()
        (self.workdir / "certs").mkdir()
        self.domain = DOMAIN
        self.muc_domain = MUC_DOMAIN
        self.component_domain = COMPONENT_DOMAIN
        self.secret = secret
        self.c2s_port = free_port()
        self.component_port = free_port()
        self.direct_tls_port = free_port() if certificate else None
        tls = ""
        if certificate:
            tls = 'ssl = {{ certificate = "{}", key = "{}" }}\n'.format(*certificate)
        self.config_path = self.workdir / "prosody.cfg.lua"
        self.config_path.write_text(CONFIG.format(
            workdir=self.workdir, c2s_port=self.c2s_port, component_port=self.component_port,
            domain=DOMAIN, other_domain=OTHER_DOMAIN, muc_domain=MUC_DOMAIN,
            component_domain=COMPONENT_DOMAIN, secret=secret,
            direct_tls_port=self.direct_tls_port or "", tls=tls,
            tls_module=', "tls"' if certificate else "",
        ))
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-F", "--config", str(self.config_path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        wait_for_port(self.c2s_port, proc=self.proc, timeout=20)
        wait_for_port(self.component_port, proc=self.proc, timeout=20)
        if self.direct_tls_port:
            wait_for_port(self.direct_tls_port, proc=self.proc, timeout=20)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def register(self, user: str, password: str, domain: str = DOMAIN) -> str:
        """Create `user@domain` (works whether Prosody runs or not); returns the JID."""
        subprocess.run(
            [self.ctl, "--config", str(self.config_path), "register", user, domain, password],
            check=True, capture_output=True, timeout=30,
        )
        return f"{user}@{domain}"

    def log_text(self) -> str:
        path = self.workdir / "prosody.log"
        return path.read_text(errors="replace") if path.exists() else ""


def loopback_client(jid: str, password: str):
    """A slixmpp ClientXMPP that may log in over plaintext on loopback (tests only)."""
    import slixmpp

    client = slixmpp.ClientXMPP(jid, password)
    client.enable_plaintext = True
    client.enable_direct_tls = False
    client.enable_starttls = False
    client.register_plugin("xep_0030")
    client.register_plugin("xep_0045")
    client.register_plugin("xep_0199")
    client.plugin["feature_mechanisms"].unencrypted_scram = True
    return client


async def connect_client(prosody: ProsodyServer, user: str, password: str, timeout: float = 10.0,
                         domain: str = DOMAIN):
    """A logged-in slixmpp client for `user@domain` (registered first)."""
    jid = prosody.register(user, password, domain)
    client = loopback_client(jid, password)
    session = asyncio.get_running_loop().create_future()
    client.add_event_handler("session_start", lambda _: session.done() or session.set_result(None))
    client.add_event_handler(
        "failed_auth", lambda _: session.done() or session.set_exception(
            RuntimeError(f"{jid} could not log in")))
    client.connect("127.0.0.1", prosody.c2s_port)
    await asyncio.wait_for(session, timeout)
    client.send_presence()
    return client


async def disconnect_client(client, timeout: float = 5.0) -> None:
    disconnected = client.disconnect()
    if disconnected is not None:
        try:
            await asyncio.wait_for(disconnected, timeout)
        except TimeoutError:
            client.abort()


__all__ = [
    "COMPONENT_DOMAIN", "DOMAIN", "MUC_DOMAIN", "OTHER_DOMAIN", "ProsodyServer", "connect_client",
    "disconnect_client", "loopback_client",
]
