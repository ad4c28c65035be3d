"""SASL through real sockets: CAP negotiation of `sasl`, AUTHENTICATE PLAIN and SCRAM-SHA-256.

EXTERNAL needs TLS client certificates: it is tested in test_tls.py. The
SCRAM client is the bots' own (bots.sasl), written apart from the server's.
"""

from __future__ import annotations

import base64

import pytest
from support import RawClient

from bots.sasl import ScramSHA256
from words.cred import PasswordHasher, UsernamePassword
from words.cred.scram import ScramVerifier

HASHER = PasswordHasher.from_config({"ln": 4})  # what make_config's `hashing` builds


async def add_account(server, name: str, password: str, *, scram: bool = False) -> None:
    verifier = str(ScramVerifier.from_password(password)) if scram else None
    await server.realm.accounts.create(name, HASHER.hash(password), scram=verifier)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def plain(account: str, password: str, authzid: str = "") -> str:
    return b64(f"{authzid}\0{account}\0{password}".encode())


@pytest.fixture
async def open_client():
    """`await open_client(server)`: a connection with the sasl cap, NICK and USER sent."""
    clients: list[RawClient] = []

    async def open_(server, nick: str = "ally", *, req: bool = True) -> RawClient:
        client = await RawClient.connect(server.port)
        clients.append(client)
        client.nick = nick
        await client.send("CAP LS 302")
        await client.expect("CAP", "*", "LS")
        if req:
            await client.send("CAP REQ :sasl")
            await client.expect("CAP", "*", "ACK", "sasl")
        await client.send(f"NICK {nick}")
        await client.send(f"USER {nick} 0 * :Real {nick}")
        return client

    yield open_
    for client in clients:
        await client.close()


async def start_plain(client: RawClient) -> None:
    await client.send("AUTHENTICATE PLAIN")
    assert (await client.expect("AUTHENTICATE")).params == ["+"]


async def finish_registration(client: RawClient) -> None:
    await client.send("CAP END")
    await client.expect("001", client.nick)
    await client.expect("376", client.nick)


async def cap_ls(server, version: str = "302") -> dict[str, str | None]:
    """The capabilities CAP LS offers: name -> value (None when it has none)."""
    client = await RawClient.connect(server.port)
    try:
        await client.send(f"CAP LS {version}".rstrip())
        tokens = (await client.expect("CAP", "*", "LS")).params[-1].split()
        return {name: (value if sep else None)
                for name, sep, value in (token.partition("=") for token in tokens)}
    finally:
        await client.close()


# -- CAP -------------------------------------------------------------------------------


async def test_cap_ls_302_lists_sasl_plain_only_by_default(start_server):
    server = await start_server()
    caps = await cap_ls(server)
    assert caps["sasl"] == "PLAIN" and "cap-notify" in caps


async def test_cap_ls_302_lists_scram_when_enabled(start_server):
    server = await start_server(scram=True)
    assert (await cap_ls(server))["sasl"] == "PLAIN,SCRAM-SHA-256"


async def test_cap_ls_without_302_shows_names_without_values(start_server):
    server = await start_server(scram=True)
    caps = await cap_ls(server, "")
    assert "sasl" in caps and "cap-notify" in caps
    assert set(caps.values()) == {None}


async def test_cap_req_list_and_removal_of_sasl(start_server):
    server = await start_server()
    client = await RawClient.connect(server.port)
    try:
        await client.send("CAP LS 302")
        await client.expect("CAP", "*", "LS")
        await client.send("CAP REQ :sasl")
        assert (await client.expect("CAP")).params == ["*", "ACK", "sasl"]
        await client.send("CAP LIST")
        assert (await client.expect("CAP")).params == ["*", "LIST", "cap-notify sasl"]
        await client.send("CAP REQ :sasl frobnicate")
        assert (await client.expect("CAP")).params == ["*", "NAK", "sasl frobnicate"]
        await client.send("CAP REQ :-sasl")
        assert (await client.expect("CAP")).params == ["*", "ACK", "-sasl"]
        await client.send("CAP LIST")
        assert (await client.expect("CAP")).params == ["*", "LIST", "cap-notify"]
        # Without the cap, AUTHENTICATE is refused.
        await client.send("AUTHENTICATE PLAIN")
        reply = await client.expect("904")
        assert reply.params[0] == "*" and "request the sasl capability" in reply.params[1]
    finally:
        await client.close()


# -- PLAIN -----------------------------------------------------------------------------


async def test_plain_success_logs_in_and_registration_keeps_the_account(start_server, open_client):
    server = await start_server()
    await add_account(server, "alice", "sekrit")
    client = await open_client(server, "ally")
    await start_plain(client)
    await client.send(f"AUTHENTICATE {plain('alice', 'sekrit')}")
    logged_in = await client.expect("900")
    assert logged_in.params == [
        "ally", "ally!~ally@127.0.0.1", "alice", "You are now logged in as alice",
    ]
    assert (await client.expect("903")).params == ["ally", "SASL authentication successful"]
    await finish_registration(client)
    await client.send("WHOIS ally")
    assert (await client.expect("330")).params == ["ally", "ally", "alice", "is logged in as"]
    # Logged in already: a second exchange is refused.
    await client.send("AUTHENTICATE PLAIN")
    assert (await client.expect("907")).params == [
        "ally", "You have already authenticated using SASL",
    ]


async def test_plain_authzid_equal_to_the_account_is_accepted(start_server, open_client):
    server = await start_server()
    await add_account(server, "alice", "sekrit")
    client = await open_client(server)
    await start_plain(client)
    await client.send(f"AUTHENTICATE {plain('alice', 'sekrit', authzid='alice')}")
    assert (await client.expect("900")).params[2] == "alice"
    await client.expect("903")


async def test_907_after_success_before_registration(start_server, open_client):
    server = await start_server()
    await add_account(server, "alice", "sekrit")
    client = await open_client(server)
    await start_plain(client)
    await client.send(f"AUTHENTICATE {plain('alice', 'sekrit')}")
    await client.expect("903")
    await client.send("AUTHENTICATE PLAIN")
    assert (await client.expect("907")).params[0] == "ally"


@pytest.mark.parametrize("payload", [
    plain("alice", "wrong"),  # wrong password
    plain("nobody", "sekrit"),  # unknown account
    plain("bob", "sekrit", authzid="alice"),  # asks to act as another account
    b64(b"alice\0sekrit"),  # not authzid NUL authcid NUL password
    "+",  # an empty response
])
async def test_plain_failures_get_904(start_server, open_client, payload):
    server = await start_server()
    await add_account(server, "alice", "sekrit")
    await add_account(server, "bob", "sekrit")
    client = await open_client(server)
    await start_plain(client)
    await client.send(f"AUTHENTICATE {payload}")
    assert (await client.expect("904")).params == ["ally", "SASL authentication failed"]
    # Nothing logged in: registration goes on anonymously.
    await finish_registration(client)
    await client.send("WHOIS ally")
    lines = await client.until_pong()
    assert "330" not in [m.command for m in lines]
    assert not any(m.command in ("900", "903") for m in client.received)


async def test_plain_malformed_base64_gets_904(start_server, open_client):
    server = await start_server()
    client = await open_client(server)
    await start_plain(client)
    await client.send("AUTHENTICATE !!notbase64!!")
    assert (await client.expect("904")).params == [
        "ally", "SASL authentication failed: bad base64",
    ]


async def test_plain_split_across_400_byte_chunks(start_server, open_client):
    server = await start_server()
    password = "p" * 500
    await add_account(server, "alice", password)
    client = await open_client(server)
    await start_plain(client)
    encoded = plain("alice", password)
    assert 400 < len(encoded) < 800
    await client.send(f"AUTHENTICATE {encoded[:400]}")
    # Nothing is answered to a full chunk: the server waits for the rest.
    assert await client.until_pong() == []
    await client.send(f"AUTHENTICATE {encoded[400:]}")
    assert (await client.expect("900")).params[2] == "alice"
    await client.expect("903")


async def test_plain_exact_multiple_of_400_ends_with_a_plus(start_server, open_client):
    server = await start_server()
    password = "q" * (600 - len("\0alice\0"))  # 600 bytes: exactly 800 base64 characters
    await add_account(server, "alice", password)
    client = await open_client(server)
    await start_plain(client)
    encoded = plain("alice", password)
    assert len(encoded) == 800
    await client.send(f"AUTHENTICATE {encoded[:400]}")
    await client.send(f"AUTHENTICATE {encoded[400:]}")
    assert await client.until_pong() == []  # still waiting: 400 bytes may mean "more"
    await client.send("AUTHENTICATE +")
    assert (await client.expect("900")).params[2] == "alice"
    await client.expect("903")


async def test_authenticate_star_aborts_with_906_and_a_new_exchange_may_follow(
    start_server, open_client
):
    server = await start_server()
    await add_account(server, "alice", "sekrit")
    client = await open_client(server)
    await start_plain(client)
    await client.send("AUTHENTICATE *")
    assert (await client.expect("906")).params == ["ally", "SASL authentication aborted"]
    await start_plain(client)
    await client.send(f"AUTHENTICATE {plain('alice', 'sekrit')}")
    await client.expect("903")


async def test_abort_right_after_the_response_does_not_log_in(start_server, open_client):
    """The abort arrives while the password is being checked: no login may follow the 906."""
    server = await start_server()
    await add_account(server, "alice", "sekrit")
    client = await open_client(server)
    await start_plain(client)
    client.writer.write(f"AUTHENTICATE {plain('alice', 'sekrit')}\r\nAUTHENTICATE *\r\n".encode())
    await client.expect("906")
    await finish_registration(client)
    await client.send("WHOIS ally")
    lines = await client.until_pong()
    assert "318" in [m.command for m in lines]  # the WHOIS was answered
    assert not any(m.command in ("330", "900", "903", "904") for m in client.received)


async def test_unknown_mechanism_gets_908_with_the_list_then_904(start_server, open_client):
    server = await start_server()
    client = await open_client(server)
    await client.send("AUTHENTICATE DIGEST-MD5")
    assert (await client.expect("908")).params == [
        "ally", "PLAIN", "are available SASL mechanisms",
    ]
    assert (await client.expect("904")).params == ["ally", "SASL authentication failed"]


async def test_a_chunk_over_400_bytes_gets_905(start_server, open_client):
    server = await start_server()
    client = await open_client(server)
    await start_plain(client)
    await client.send("AUTHENTICATE " + "A" * 401)
    assert (await client.expect("905")).params == ["ally", "SASL message too long"]


async def test_a_message_over_the_limit_gets_905(start_server, open_client):
    server = await start_server()
    client = await open_client(server)
    await start_plain(client)
    for _ in range(30):  # 12000 base64 bytes, more than 8192 decoded bytes
        await client.send("AUTHENTICATE " + "A" * 400)
    assert (await client.expect("905")).params == ["ally", "SASL message too long"]
    await client.until_pong()  # the connection goes on


async def test_three_failures_close_the_connection(start_server, open_client):
    server = await start_server()
    await add_account(server, "alice", "sekrit")
    client = await open_client(server)
    for attempt in range(3):
        await start_plain(client)
        await client.send(f"AUTHENTICATE {plain('alice', f'wrong{attempt}')}")
        await client.expect("904")
    error = await client.expect("ERROR")
    assert error.params == ["Closing Link: 127.0.0.1 (Too many failed SASL attempts)"]
    assert await client.closed()


async def test_aborting_does_not_reset_the_failure_count(start_server, open_client):
    server = await start_server()
    await add_account(server, "alice", "sekrit")
    client = await open_client(server)
    for attempt in range(2):
        await start_plain(client)
        await client.send(f"AUTHENTICATE {plain('alice', f'wrong{attempt}')}")
        await client.expect("904")
    await start_plain(client)
    await client.send("AUTHENTICATE *")
    await client.expect("906")
    await start_plain(client)
    await client.send(f"AUTHENTICATE {plain('alice', 'wrong again')}")
    await client.expect("904")
    await client.expect("ERROR")
    assert await client.closed()


async def test_no_pass_needed_after_sasl_when_anonymous_logins_are_off(start_server, open_client):
    server = await start_server(auth=("memory:carol:pw",))
    await add_account(server, "alice", "sekrit")
    client = await open_client(server)
    await start_plain(client)
    await client.send(f"AUTHENTICATE {plain('alice', 'sekrit')}")
    await client.expect("903")
    await finish_registration(client)
    # The memory checker's accounts work through SASL too.
    other = await open_client(server, "cee")
    await start_plain(other)
    await other.send(f"AUTHENTICATE {plain('carol', 'pw')}")
    assert (await other.expect("900")).params[2] == "carol"
    await finish_registration(other)
    # Without SASL or PASS, this server refuses the connection.
    anonymous = await RawClient.connect(server.port)
    try:
        await anonymous.send("NICK anon")
        await anonymous.send("USER anon 0 * :anon")
        assert (await anonymous.expect("464")).params == ["anon", "Password required"]
        assert await anonymous.closed()
    finally:
        await anonymous.close()


# -- SCRAM-SHA-256 ---------------------------------------------------------------------


async def read_challenge(client: RawClient) -> bytes:
    """One server challenge, reassembled from its 400-byte chunks."""
    data = ""
    while True:
        chunk = (await client.expect("AUTHENTICATE")).params[0]
        if chunk != "+":
            data += chunk
        if len(chunk) < 400:
            return base64.b64decode(data)


async def respond(client: RawClient, payload: bytes) -> None:
    encoded = b64(payload)
    chunks = [encoded[i : i + 400] for i in range(0, len(encoded), 400)] or ["+"]
    if len(chunks[-1]) == 400:
        chunks.append("+")
    for chunk in chunks:
        await client.send(f"AUTHENTICATE {chunk}")


async def scram_until_final(client: RawClient, mechanism: ScramSHA256) -> None:
    """AUTHENTICATE SCRAM-SHA-256 up to sending the client-final-message."""
    await client.send("AUTHENTICATE SCRAM-SHA-256")
    assert await read_challenge(client) == b""
    await respond(client, mechanism.respond(b""))  # client-first
    server_first = await read_challenge(client)
    assert server_first.startswith(f"r={mechanism.nonce}".encode())
    await respond(client, mechanism.respond(server_first))  # client-final


async def test_scram_success_and_the_server_proves_itself(start_server, open_client):
    server = await start_server(scram=True)
    await add_account(server, "alice", "correct horse", scram=True)
    client = await open_client(server)
    mechanism = ScramSHA256(UsernamePassword("alice", "correct horse"))
    await scram_until_final(client, mechanism)
    server_final = await read_challenge(client)
    assert server_final.startswith(b"v=")
    assert mechanism.respond(server_final) == b""  # raises if the signature were wrong
    await respond(client, b"")
    assert (await client.expect("900")).params[1:3] == ["ally!~ally@127.0.0.1", "alice"]
    await client.expect("903")
    await finish_registration(client)
    await client.send("WHOIS ally")
    assert (await client.expect("330")).params[2] == "alice"
    # The exchange ended cleanly: no stray 907 for the client's empty final response.
    assert not any(m.command in ("904", "907") for m in client.received)


async def test_scram_waits_for_the_clients_empty_response_before_success(
    start_server, open_client
):
    """RFC 4422: success data goes out as a challenge; the outcome follows the empty reply."""
    server = await start_server(scram=True)
    await add_account(server, "alice", "correct horse", scram=True)
    client = await open_client(server)
    mechanism = ScramSHA256(UsernamePassword("alice", "correct horse"))
    await scram_until_final(client, mechanism)
    mechanism.respond(await read_challenge(client))
    assert [m.command for m in await client.until_pong()] == []
    # A client that distrusts the signature aborts: it is not logged in.
    await client.send("AUTHENTICATE *")
    await client.expect("906")
    await finish_registration(client)
    assert not any(m.command in ("900", "903") for m in client.received)


@pytest.mark.parametrize("account, password", [
    ("alice", "wrong horse"),  # wrong password
    ("bob", "correct horse"),  # an account with no SCRAM verifier stored
    ("nobody", "correct horse"),  # no such account: a decoy exchange, then 904
])
async def test_scram_failures_get_904_after_the_proof(start_server, open_client, account, password):
    server = await start_server(scram=True)
    await add_account(server, "alice", "correct horse", scram=True)
    await add_account(server, "bob", "correct horse")  # created before SCRAM was enabled
    client = await open_client(server)
    await scram_until_final(client, ScramSHA256(UsernamePassword(account, password)))
    assert (await client.expect("904")).params == ["ally", "SASL authentication failed"]
    # PLAIN still works for bob, whose account has no verifier.
    if account == "bob":
        await start_plain(client)
        await client.send(f"AUTHENTICATE {plain('bob', 'correct horse')}")
        assert (await client.expect("900")).params[2] == "bob"


async def test_scram_abort_mid_exchange_gets_906(start_server, open_client):
    server = await start_server(scram=True)
    await add_account(server, "alice", "correct horse", scram=True)
    client = await open_client(server)
    mechanism = ScramSHA256(UsernamePassword("alice", "correct horse"))
    await client.send("AUTHENTICATE SCRAM-SHA-256")
    await read_challenge(client)
    await respond(client, mechanism.respond(b""))
    await read_challenge(client)  # server-first
    await client.send("AUTHENTICATE *")
    assert (await client.expect("906")).params == ["ally", "SASL authentication aborted"]
    await finish_registration(client)
    assert not any(m.command in ("900", "903", "904") for m in client.received)


async def test_scram_is_not_offered_unless_enabled(start_server, open_client):
    server = await start_server()
    client = await open_client(server)
    await client.send("AUTHENTICATE SCRAM-SHA-256")
    assert (await client.expect("908")).params[1] == "PLAIN"
    await client.expect("904")


async def test_scram_failures_count_in_the_login_throttle(start_server, open_client):
    """SCRAM checks proofs itself, outside the Portal: its failures must still lock the name."""
    server = await start_server(
        scram=True, limits={"login_failures_per_account": 2, "per_ip_exempt": []},
    )
    await add_account(server, "alice", "correct horse", scram=True)
    for attempt in range(2):
        client = await open_client(server, f"try{attempt}")
        await scram_until_final(client, ScramSHA256(UsernamePassword("alice", "wrong")))
        await client.expect("904")
    # Now even the right password is refused, by PLAIN and by SCRAM.
    client = await open_client(server, "plainly")
    await start_plain(client)
    await client.send(f"AUTHENTICATE {plain('alice', 'correct horse')}")
    assert (await client.expect("904")).params[1] == "Too many failed logins; try again later"
    assert await client.closed()
    client = await open_client(server, "scrammy")
    await client.send("AUTHENTICATE SCRAM-SHA-256")
    await read_challenge(client)
    await respond(client, ScramSHA256(UsernamePassword("alice", "correct horse")).respond(b""))
    assert (await client.expect("904")).params[1] == "Too many failed logins; try again later"
    assert await client.closed()


async def test_a_scram_success_clears_the_accounts_failures(start_server, open_client):
    server = await start_server(
        scram=True, limits={"login_failures_per_account": 2, "per_ip_exempt": []},
    )
    await add_account(server, "alice", "correct horse", scram=True)
    client = await open_client(server, "first")
    await start_plain(client)
    await client.send(f"AUTHENTICATE {plain('alice', 'wrong')}")
    await client.expect("904")
    mechanism = ScramSHA256(UsernamePassword("alice", "correct horse"))
    await scram_until_final(client, mechanism)
    mechanism.respond(await read_challenge(client))
    await respond(client, b"")
    await client.expect("903")
    # One more failure would have locked alice had the first not been forgotten.
    other = await open_client(server, "second")
    await start_plain(other)
    await other.send(f"AUTHENTICATE {plain('alice', 'wrong')}")
    await other.expect("904")
    await start_plain(other)
    await other.send(f"AUTHENTICATE {plain('alice', 'correct horse')}")
    await other.expect("903")


async def test_cap_end_during_an_exchange_aborts_it(start_server, open_client):
    """IRCv3: registration completing while SASL is in progress aborts it with 906."""
    server = await start_server()
    await add_account(server, "alice", "sekrit")
    client = await open_client(server)
    await start_plain(client)
    client.writer.write(f"AUTHENTICATE {plain('alice', 'sekrit')}\r\nCAP END\r\n".encode())
    assert (await client.expect("906")).params == ["ally", "SASL authentication aborted"]
    await client.expect("001")
    await client.expect("376")
    await client.send("WHOIS ally")
    lines = await client.until_pong()
    assert "318" in [m.command for m in lines]
    assert not any(m.command in ("330", "900", "903", "904") for m in client.received)


async def test_cap_end_after_choosing_a_mechanism_aborts_it(start_server, open_client):
    server = await start_server()
    client = await open_client(server)
    await start_plain(client)
    await client.send("CAP END")
    await client.expect("906")
    await client.expect("001")
    # Registered now: AUTHENTICATE is over for this connection.
    await client.send("AUTHENTICATE PLAIN")
    await client.expect("907")


async def test_an_exchange_that_stalls_times_out(start_server):
    server = await start_server(limits={"sasl_timeout": 0.2})
    await server.realm.accounts.create("alice", HASHER.hash("pw"))
    client = await RawClient.connect(server.port)
    await client.send("CAP REQ sasl")
    await client.expect("CAP")
    await client.send("AUTHENTICATE PLAIN")
    await client.expect("AUTHENTICATE", "+")
    failed = await client.expect("904")
    assert failed.params[-1] == "SASL authentication timed out"
    await client.close()


async def test_a_labeled_exchange_gets_its_labels_on_the_late_answers(start_server, open_client):
    # labeled-response: the steps are checked off the loop, their answers come later.
    server = await start_server()
    await add_account(server, "alice", "sekrit")
    client = await open_client(server, "ally", req=False)
    await client.send("CAP REQ :sasl batch labeled-response")
    await client.expect("CAP", "ally", "ACK", "sasl batch labeled-response")
    await client.send("@label=a1 AUTHENTICATE PLAIN")
    assert (await client.read_message()).to_line() == "@label=a1 AUTHENTICATE +"
    await client.send(f"@label=a2 AUTHENTICATE {plain('alice', 'sekrit')}")
    lines = [(await client.read_message()).to_line() for _ in range(4)]
    ref = lines[0].split("BATCH +", 1)[1].split()[0]
    assert lines == [
        f"@label=a2 :irc.test BATCH +{ref} labeled-response",
        f"@batch={ref} :irc.test 900 ally ally!~ally@127.0.0.1 alice :You are now logged in as alice",
        f"@batch={ref} :irc.test 903 ally :SASL authentication successful",
        f":irc.test BATCH -{ref}",
    ]
