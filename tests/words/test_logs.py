"""Logs: text (rich on a terminal, plain otherwise) or JSON lines, with connection fields; no secrets."""

from __future__ import annotations

import base64
import io
import json
import logging

import pytest
from support import RawClient, free_port, run_words, service_notice, tell, wait_until

from words.config import ConfigError, config_from_mapping
from words.cred import PasswordHasher
from words.logs import JSONFormatter, TextFormatter, make_handler


@pytest.fixture
def captured():
    """Everything the `words` loggers say at debug level, formatted by `fmt` ("text" or "json")."""
    handlers = []
    logger = logging.getLogger("words")
    old_level = logger.level

    def capture(fmt: str) -> io.StringIO:
        stream = io.StringIO()
        handler = make_handler(fmt, stream)
        handlers.append(handler)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        return stream

    yield capture
    for handler in handlers:
        logger.removeHandler(handler)
    logger.setLevel(old_level)


def _record(msg: str, *args, **extra) -> logging.LogRecord:
    record = logging.LogRecord("words.irc", logging.INFO, __file__, 1, msg, args, None)
    record.__dict__.update(extra)
    return record


def test_json_formatter_gives_one_object_with_the_connection_fields():
    line = JSONFormatter().format(_record("closing: %s", "Ping timeout", conn=7, peer="192.0.2.1:5000"))
    entry = json.loads(line)
    assert entry["level"] == "info" and entry["logger"] == "words.irc"
    assert entry["message"] == "closing: Ping timeout"
    assert entry["conn"] == 7 and entry["peer"] == "192.0.2.1:5000"
    assert entry["time"].endswith("Z") and "T" in entry["time"]


def test_json_formatter_keeps_one_line_per_record_and_the_traceback():
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        import sys

        record = _record("two\nlines")
        record.exc_info = sys.exc_info()
    line = JSONFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "two\nlines"
    assert "RuntimeError: boom" in entry["exception"]
    assert "conn" not in entry and "peer" not in entry


def test_text_formatter_puts_the_connection_in_front():
    formatter = TextFormatter("%(levelname)s %(message)s")
    record = _record("registered as %s", "alice", conn=3, peer="127.0.0.1:4000")
    assert formatter.format(record) == "INFO [conn#3 127.0.0.1:4000] registered as alice"
    assert record.getMessage() == "registered as alice"  # the record itself is left alone
    assert formatter.format(_record("listening")) == "INFO listening"


def test_text_on_a_pipe_is_plain_and_json_when_asked():
    assert type(make_handler("text", io.StringIO())) is logging.StreamHandler
    assert isinstance(make_handler("json", io.StringIO()).formatter, JSONFormatter)

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    from rich.logging import RichHandler

    assert isinstance(make_handler("text", Terminal()), RichHandler)


def test_log_format_is_checked_in_the_config():
    assert config_from_mapping({"log_format": "json"}, "w.yaml").log_format == "json"
    assert config_from_mapping({}, "w.yaml").log_format == "text"
    with pytest.raises(ConfigError, match=r"w.yaml: log_format: 'xml' is not one of text, json"):
        config_from_mapping({"log_format": "xml"}, "w.yaml")


async def test_connection_lines_carry_conn_and_peer_in_json(start_server, captured):
    stream = captured("json")
    server = await start_server()
    client = await RawClient.connect(server.port)
    await client.register("alice")
    port = client.writer.get_extra_info("sockname")[1]
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    registered = [e for e in entries if e["message"] == "registered as alice!~user@127.0.0.1"]
    assert registered, entries
    assert registered[0]["peer"] == f"127.0.0.1:{port}"
    assert isinstance(registered[0]["conn"], int)
    connected = [e for e in entries if e["message"] == "connected" and e.get("peer") == f"127.0.0.1:{port}"]
    assert connected and connected[0]["conn"] == registered[0]["conn"]
    await client.close()


async def test_connection_lines_in_text(start_server, captured):
    stream = captured("text")
    server = await start_server()
    client = await RawClient.connect(server.port)
    await client.register("bob")
    port = client.writer.get_extra_info("sockname")[1]
    assert f" 127.0.0.1:{port}] registered as bob!~user@127.0.0.1" in stream.getvalue()
    await client.close()


async def test_words_serve_logs_json_lines(tmp_path, words_process):
    config = tmp_path / "words.yaml"
    config.write_text("log_format: json\nlog_level: debug\n")
    port = free_port()
    proc = words_process("--config", str(config), port=port)
    client = await RawClient.connect(port)
    await client.register("carol")
    await client.send("QUIT :bye")
    assert await client.closed()
    proc.terminate()
    _, stderr = proc.communicate(timeout=10)
    entries = [json.loads(line) for line in stderr.splitlines()]  # every line is one object
    messages = [e["message"] for e in entries]
    assert f"listening on 127.0.0.1:{port}" in messages
    registered = next(e for e in entries if e["message"].startswith("registered as carol"))
    assert registered["peer"].startswith("127.0.0.1:") and registered["logger"] == "words.irc"
    assert {"time", "level", "logger", "message", "conn", "peer"} <= set(registered)


async def test_words_serve_logs_plain_text_when_not_on_a_terminal(words_process):
    port = free_port()
    proc = words_process("--log-level", "debug", port=port)
    client = await RawClient.connect(port)
    await client.register("dave")
    await client.close()
    proc.terminate()
    _, stderr = proc.communicate(timeout=10)
    line = next(line for line in stderr.splitlines() if "registered as dave" in line)
    assert " INFO    words.irc: [conn#" in line and " 127.0.0.1:" in line
    assert "\x1b[" not in stderr  # no terminal escapes in a file or a pipe


# -- secrets -------------------------------------------------------------------------------

SECRETS = {
    "pass": "PassSecret-1a",
    "sasl_wrong": "SaslWrong-2b",
    "sasl": "SaslRight-3c",
    "oper_wrong": "OperWrong-4d",
    "oper": "OperRight-5e",
    "register": "RegisterSecret-6f",
    "nickserv": "NickServSecret-7g",
}


def _plain(account: str, password: str) -> str:
    return base64.b64encode(f"\0{account}\0{password}".encode()).decode()


def serve_at_debug_level(tmp_path, words_process, extra: str = ""):
    """`words serve` logging JSON at debug level, on tmp_path/words.db, with the oper root
    (password SECRETS["oper"]): (process, port, the oper's hash)."""
    oper_hash = PasswordHasher.from_config({"ln": 4}).hash(SECRETS["oper"])
    config = tmp_path / "words.yaml"
    config.write_text(
        "log_format: json\nlog_level: debug\nhashing: {ln: 4}\n"
        f"realm: {{database: 'sqlite:///{tmp_path / 'words.db'}'}}\n"
        f"opers: [{{name: root, password: '{oper_hash}', hosts: ['*@*']}}]\n" + extra
    )
    port = free_port()
    return words_process("--config", str(config), port=port), port, oper_hash


async def test_no_password_is_ever_logged_at_debug_level(tmp_path, words_process):
    proc, port, _ = serve_at_debug_level(tmp_path, words_process)

    # PASS with a wrong password for an unknown account.
    client = await RawClient.connect(port)
    await client.send(f"PASS {SECRETS['pass']}")
    await client.send("NICK passer")
    await client.send("USER u 0 * :u")
    await client.expect("464")
    await client.close()

    # REGISTER an account, then NickServ IDENTIFY with a wrong password.
    alice = await RawClient.connect(port)
    await alice.register("alice")
    await alice.send(f"REGISTER * * {SECRETS['sasl']}")
    await alice.expect("REGISTER", "SUCCESS")
    await alice.send(f"PRIVMSG NickServ :IDENTIFY alice {SECRETS['nickserv']}")
    await alice.expect("NOTICE")
    # OPER, wrong then right.
    await alice.send(f"OPER root {SECRETS['oper_wrong']}")
    await alice.expect("464")
    await alice.send(f"OPER root {SECRETS['oper']}")
    await alice.expect("381")
    await alice.close()

    bob = await RawClient.connect(port)
    await bob.register("bob")
    await bob.send(f"REGISTER * * {SECRETS['register']}")
    await bob.expect("REGISTER", "SUCCESS")
    await bob.close()

    # SASL PLAIN, wrong then right.
    for password, numeric in ((SECRETS["sasl_wrong"], "904"), (SECRETS["sasl"], "903")):
        sasl = await RawClient.connect(port)
        await sasl.send("CAP LS 302")
        await sasl.send("CAP REQ :sasl")
        await sasl.expect("CAP", "*", "ACK")
        await sasl.send("AUTHENTICATE PLAIN")
        await sasl.expect("AUTHENTICATE", "+")
        await sasl.send(f"AUTHENTICATE {_plain('alice', password)}")
        await sasl.expect(numeric)
        await sasl.close()

    proc.terminate()
    _, stderr = proc.communicate(timeout=10)
    messages = [json.loads(line)["message"] for line in stderr.splitlines()]
    # The events themselves are logged...
    assert any("failed OPER as 'root'" in m for m in messages), messages
    assert any("SASL PLAIN login failed" in m for m in messages), messages
    # ...but never a password, plain or base64.
    for secret in SECRETS.values():
        assert secret not in stderr
        assert secret.lower() not in stderr.lower()
    for password in (SECRETS["sasl_wrong"], SECRETS["sasl"]):
        assert _plain("alice", password) not in stderr


async def test_no_password_reaches_any_logger_in_process(start_server, captured, caplog):
    """Every logger (asyncio's too) at debug level, through both formats."""
    caplog.set_level(logging.DEBUG)
    text, as_json = captured("text"), captured("json")
    oper_hash = PasswordHasher.from_config({"ln": 4}).hash(SECRETS["oper"])
    from words.config import Oper

    server = await start_server(opers=(Oper("root", oper_hash),), auth=("memory:erin:" + SECRETS["pass"],))
    client = await RawClient.connect(server.port)
    await client.register("erin", password=SECRETS["pass"])
    await client.send(f"OPER root {SECRETS['oper_wrong']}")
    await client.expect("464")
    await client.send(f"OPER root {SECRETS['oper']}")
    await client.expect("381")
    await client.close()
    await wait_until(lambda: not server.connections, "the connection to close")
    assert "registered as erin" in text.getvalue()
    for secret in (SECRETS["pass"], SECRETS["oper"], SECRETS["oper_wrong"]):
        assert secret not in text.getvalue()
        assert secret not in as_json.getvalue()
        assert secret not in caplog.text


def test_check_config_refuses_a_bad_log_format(tmp_path):
    bad = tmp_path / "words.yaml"
    bad.write_text("log_format: yaml\n")
    result = run_words("check-config", str(bad))
    assert result.returncode == 2
    assert f"{bad}: log_format: 'yaml' is not one of text, json" in result.stderr


async def _sasl(port: int, mechanism, account: str) -> RawClient:
    """A client logged in by SASL with `mechanism` (a bots.sasl mechanism), then registered."""
    from bots.sasl import encode_authenticate

    client = await RawClient.connect(port)
    await client.send("CAP LS 302")
    await client.send("CAP REQ :sasl")
    await client.expect("CAP", "*", "ACK")
    await client.send(f"AUTHENTICATE {mechanism.name}")
    while True:
        msg = await client.read_message()
        assert msg is not None and msg.command in ("AUTHENTICATE", "900", "903"), msg
        if msg.command == "903":
            break
        if msg.command == "900":
            continue
        challenge = b"" if msg.params[0] == "+" else base64.b64decode(msg.params[0])
        for line in encode_authenticate(mechanism.respond(challenge)):
            await client.send(f"AUTHENTICATE {line}")
    await client.send("CAP END")
    await client.register(account)
    return client


async def test_no_password_hash_leaves_the_server(tmp_path, words_process):
    """Account hashes, SCRAM verifiers and the oper block's hash: in no log line (debug
    level), no IRC reply (NickServ INFO, WHOIS, WHO, STATS, ...) and no `words account` output."""
    from bots.sasl import ScramSHA256
    from words.cred.credentials import UsernamePassword

    proc, port, oper_hash = serve_at_debug_level(
        tmp_path, words_process, "scram: true\nlimits: {flood_burst: 100000, flood_rate: 100000}\n")
    db, config = tmp_path / "words.db", tmp_path / "words.yaml"
    clients: list[RawClient] = []
    try:
        alice = await RawClient.connect(port)
        clients.append(alice)
        await alice.register("alice")
        await alice.send(f"REGISTER * * {SECRETS['register']}")
        await alice.expect("REGISTER", "SUCCESS")
        # Logins by every path: PASS, SASL PLAIN, SASL SCRAM-SHA-256, NickServ IDENTIFY.
        passer = await RawClient.connect(port)
        clients.append(passer)
        await passer.register("passer", password=f"alice:{SECRETS['register']}")
        scram = await _sasl(port, ScramSHA256(UsernamePassword("alice", SECRETS["register"])), "scrammer")
        clients.append(scram)
        await alice.send(f"PRIVMSG NickServ :IDENTIFY alice {SECRETS['register']}")
        await alice.expect("NOTICE")
        # Whatever shows account data, asked by a user and then by an oper.
        questions = ["WHOIS alice", "WHOIS alice alice", "WHO alice", "WHO alice %tcuihsnfdlaor,1",
                     "WHOWAS alice", "USERHOST alice", "INFO", "ADMIN", "CAP LS 302",
                     *(f"STATS {letter}" for letter in "uokdmKD")]
        for asker in (passer, alice):
            if asker is alice:
                await alice.send(f"OPER root {SECRETS['oper']}")
                await alice.expect("381")
                await alice.send("REHASH")
                await alice.expect("382")
            await tell(asker, "INFO alice", "NickServ")
            assert "registered" in await service_notice(asker, "registered", "NickServ")
            for question in questions:
                await asker.send(question)
                await asker.until_pong()
        assert any(m.command == "243" for m in alice.received)  # STATS o showed the oper block
    finally:
        for client in clients:
            await client.close()
    proc.terminate()
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr[-2000:]
    shown = {"stderr": stderr, "stdout": stdout,
             "replies": "\n".join(m.to_line() for c in clients for m in c.received)}
    for args in (("show", "alice"), ("list",)):
        result = run_words("account", *args, "--config", str(config))
        assert result.returncode == 0, result.stderr
        assert "alice" in result.stdout
        shown[f"words account {args[0]}"] = result.stdout + result.stderr
    assert "SCRAM-SHA-256" in shown["replies"]  # the mechanism is offered and used...
    import sqlite3

    with sqlite3.connect(db) as conn:
        password_hash, verifier = conn.execute("SELECT password_hash, scram FROM accounts").fetchone()
    assert password_hash.startswith("$scrypt$") and verifier.startswith("SCRAM-SHA-256$")
    # ...but what is stored (keys and hashes; a SCRAM salt is public, sent in every exchange) is not.
    pieces = [password_hash, password_hash.rsplit("$", 1)[1], oper_hash, oper_hash.rsplit("$", 1)[1],
              verifier, *verifier.rsplit("$", 1)[1].split(":"), "$scrypt$", "SCRAM-SHA-256$"]
    for where, text in shown.items():
        for piece in pieces:
            assert piece not in text, (piece, where)
