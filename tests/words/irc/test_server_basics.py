from words.irc.codec import Message


async def test_welcome_burst(connect):
    client = await connect()
    await client.send("NICK alice")
    await client.send("USER alice 0 * :Alice Liddell")
    welcome = await client.expect("001")
    assert welcome.source == "irc.test"
    assert welcome.params == ["alice", "Welcome to the TestNet IRC Network alice!~alice@127.0.0.1"]
    await client.expect("251")
    tokens = [t for m in client.received if m.command == "005" for t in m.params[1:-1]]
    assert "CASEMAPPING=rfc1459" in tokens
    assert "NETWORK=TestNet" in tokens
    await client.expect("375")
    await client.expect("376")
