from words.irc.codec import Message


async def test_welcome_burst(connect):
    client = await connect()
    await client.send("NICK alice")
    await client.send("USER alice 0 * :Alice Liddell")
    welcome = await client.expect("001")
    assert welcome.source == "irc.test"
    assert welcome.params == ["alice", "Welcome to the TestNet IRC Network alice!~alice@127.0.0.1"]
    isupport = await client.expect("005")
    assert "CASEMAPPING=rfc1459" in isupport.params
    assert "NETWORK=TestNet" in isupport.params
    await client.expect("251")
    await client.expect("375")
    await client.expect("376")
