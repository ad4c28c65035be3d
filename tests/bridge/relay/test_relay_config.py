"""bridge.yaml: what loads, the defaults, and errors naming the file, the key and the problem."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from bots.connector import TLSOptions
from bridge.relay.config import ConfigError, load_config, parse_config

REPO = Path(__file__).resolve().parents[3]

BASE = {
    "irc": {"net": {"server": "irc.example.org", "nick": "relay"}},
    "xmpp": {"acc": {"jid": "relay@example.org", "password": "pw"}},
    "pairs": [{"irc": "net", "channel": "#a", "xmpp": "acc", "room": "A@muc.example.org"}],
}


def with_(path: str, value, base=BASE) -> dict:
    """BASE with the value at a dotted path (list items as [0]) set, or deleted if ...."""
    raw = copy.deepcopy(base)
    *parents, last = path.replace("[", ".").replace("]", "").split(".")
    node = raw
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return raw


def test_the_shipped_example_loads(monkeypatch):
    monkeypatch.setenv("RELAY_XMPP_PASS", "secret")
    config = load_config(REPO / "config" / "bridge.yaml")
    assert [(p.irc, p.channel, p.xmpp, p.room, p.nick) for p in config.pairs] == [
        ("local", "#words", "main", "words@conference.example.org", "irc"),
        ("local", "#help", "main", "help@conference.example.org", "irc"),
    ]
    assert config.xmpp["main"].password == "secret"
    assert config.xmpp["main"].tls == "starttls"
    assert config.irc["local"].tls is None
    assert (config.pairs[0].options.join_part, config.pairs[1].options.join_part) == (False, True)
    assert config.pairs[1].options.topic_sync is True


def test_defaults_are_safe():
    config = parse_config(BASE, "b.yaml")
    net, acc, pair = config.irc["net"], config.xmpp["acc"], config.pairs[0]
    assert (net.port, net.tls) == (6697, TLSOptions())  # TLS unless told otherwise
    assert (acc.host, acc.port, acc.tls) == (None, 5222, "starttls")
    assert pair.room == "a@muc.example.org"  # bare JIDs compare case-insensitively
    assert pair.nick == "relay"  # the JID's local part
    opts = pair.options
    assert (opts.irc_message, opts.xmpp_message) == ("<{nick}> {text}", "<{nick}> {text}")
    assert (opts.join_part, opts.topic_sync, opts.break_highlights) == (False, False, True)


def test_defaults_section_applies_to_every_pair_and_a_pair_overrides_it():
    raw = with_("defaults", {"join_part": True, "irc_message": "[{nick}] {text}"})
    raw["pairs"].append({"irc": "net", "channel": "#b", "xmpp": "acc", "room": "b@m.example.org",
                         "join_part": False})
    a, b = parse_config(raw, "b.yaml").pairs
    assert (a.options.join_part, b.options.join_part) == (True, False)
    assert a.options.irc_message == b.options.irc_message == "[{nick}] {text}"


def test_secrets_from_the_environment(monkeypatch):
    monkeypatch.setenv("XPW", "from-env")
    raw = with_("xmpp.acc", {"jid": "relay@example.org", "password_env": "XPW"})
    assert parse_config(raw, "b.yaml").xmpp["acc"].password == "from-env"
    monkeypatch.delenv("XPW")
    with pytest.raises(ConfigError) as e:
        parse_config(raw, "b.yaml")
    assert str(e.value) == "b.yaml: xmpp.acc.password_env: $XPW is not set"


@pytest.mark.parametrize(("path", "value", "key", "problem"), [
    ("irc", ..., "irc", "must map network names to IRC settings"),
    ("pairs", [], "pairs", "must be a non-empty list of channel/room pairs"),
    ("colour", "red", "colour", "unknown key (known: defaults, irc, pairs, xmpp)"),
    ("irc.net.nick", ..., "irc.net.nick", "is required"),
    ("irc.net.nick", "two words", "irc.net.nick", "must not contain spaces, got 'two words'"),
    ("irc.net.port", 70000, "irc.net.port", "must be a port number (1-65535), got 70000"),
    ("irc.net.tls", "yes", "irc.net.tls", "must be true, false or a mapping"),
    ("irc.net.sasl", {"mechanism": "PLAIN"}, "irc.net.sasl.password",
     "SASL PLAIN needs a password (or password_env)"),
    ("irc.net.sasl", {"mechanism": "MD5", "password": "x"}, "irc.net.sasl.mechanism",
     "must be one of SCRAM-SHA-256, PLAIN, EXTERNAL, got 'MD5'"),
    ("irc.net.flood", {"rate": 0}, "irc.net.flood.rate", "must be a number of at least 0.01, got 0"),
    ("xmpp.acc.jid", "relay", "xmpp.acc.jid",
     "must be a bare JID like relay@example.org, got 'relay'"),
    ("xmpp.acc.password", ..., "xmpp.acc.password", "is required (or password_env)"),
    ("xmpp.acc.password_env", "NO_SUCH_VARIABLE_X", "xmpp.acc.password_env",
     "give password or password_env, not both"),
    ("xmpp.acc.tls", "none", "xmpp.acc.tls",
     "must be one of starttls, direct, plaintext, got 'none'"),
    ("xmpp.acc.self_ping", {"interval": 0}, "xmpp.acc.self_ping.interval",
     "must be a number of at least 0.1, got 0"),
    ("pairs[0].irc", "other", "pairs[0].irc", "no IRC network 'other' under irc: (known: net)"),
    ("pairs[0].xmpp", "other", "pairs[0].xmpp",
     "no XMPP account 'other' under xmpp: (known: acc)"),
    ("pairs[0].channel", "a", "pairs[0].channel",
     "must be an IRC channel name like #words, got 'a'"),
    ("pairs[0].room", "muc.example.org", "pairs[0].room",
     "must be a bare room JID like words@conference.example.org, got 'muc.example.org'"),
    ("pairs[0].room", "a@muc.example.org/nick", "pairs[0].room",
     ("must be a bare room JID like words@conference.example.org, "
      "got 'a@muc.example.org/nick'")),
    ("pairs[0].join_part", "yes", "pairs[0].join_part", "must be true or false, got 'yes'"),
    ("pairs[0].irc_message", "<{nick}>", "pairs[0].irc_message",
     "must contain {text} exactly once, got '<{nick}>'"),
    ("pairs[0].irc_message", "{who}: {text}", "pairs[0].irc_message",
     "unknown field {who} (use {nick} and {text})"),
    ("pairs[0].irc_message", "<{nick> {text}", "pairs[0].irc_message",
     "is not a valid format string: unexpected '{' in field name"),
    ("pairs[0].xmpp_action", "{nick}\n{text}", "pairs[0].xmpp_action",
     "must be one line (no CR, LF, NUL or \\x01)"),
    ("pairs[0].irc_max_lines", 1, "pairs[0].irc_max_lines",
     "must be an integer of at least 2, got 1"),
    ("pairs[0].speed", 3, "pairs[0].speed", (
        "unknown key (known: break_highlights, channel, channel_key, channel_key_env, irc, "
        "irc_action, irc_max_lines, irc_message, join_part, nick, rejoin_delay, room, "
        "room_password, room_password_env, topic_sync, xmpp, xmpp_action, xmpp_message)")),
])
def test_a_bad_value_names_the_file_the_key_and_the_problem(path, value, key, problem):
    with pytest.raises(ConfigError) as e:
        parse_config(with_(path, value), "bridge.yaml")
    assert str(e.value) == f"bridge.yaml: {key}: {problem}"


def test_a_channel_in_two_pairs_and_a_room_under_two_nicks_are_refused():
    raw = copy.deepcopy(BASE)
    raw["pairs"].append({**raw["pairs"][0], "room": "b@muc.example.org"})
    with pytest.raises(ConfigError, match=r"^b.yaml: pairs\[1\].channel: #a on net is already "
                                          r"in pairs\[0\]: a channel is relayed to one room$"):
        parse_config(raw, "b.yaml")
    raw["pairs"][1] = {**raw["pairs"][0], "channel": "#b", "nick": "other"}
    with pytest.raises(ConfigError, match=r"^b.yaml: pairs\[1\].nick: a@muc.example.org is "
                                          r"joined as 'relay' already$"):
        parse_config(raw, "b.yaml")


def test_file_problems(tmp_path):
    with pytest.raises(ConfigError, match=r"missing.yaml: \(file\): No such file or directory$"):
        load_config(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("irc: [\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: \(file\): not valid YAML"):
        load_config(broken)


def test_the_readme_example_loads(monkeypatch):
    readme = (REPO / "README.md").read_text()
    relay_section = readme[readme.index("### Relay"):]
    example = relay_section[relay_section.index("```yaml\n") + 8:]
    example = example[:example.index("```")]
    monkeypatch.setenv("RELAY_SASL_PASS", "s")
    monkeypatch.setenv("RELAY_XMPP_PASS", "x")
    config = parse_config(yaml.safe_load(example), "README.md")
    assert [p.channel for p in config.pairs] == ["#words", "#help"]
    assert config.irc["libera"].sasl_username == "words-relay"
    assert config.irc["libera"].port == 6697


def test_irc_keepalive_settings():
    net = parse_config(with_("irc.net.ping", {"interval": 30, "timeout": 10}), "b.yaml").irc["net"]
    assert (net.ping_interval, net.ping_timeout) == (30.0, 10.0)
    assert (parse_config(BASE, "b.yaml").irc["net"].ping_interval,
            parse_config(BASE, "b.yaml").irc["net"].ping_timeout) == (120.0, 60.0)


def test_certificate_files_are_relative_to_the_config_and_must_exist(tmp_path):
    (tmp_path / "certs").mkdir()
    for name in ("ca.pem", "relay.pem", "relay.key"):
        (tmp_path / "certs" / name).write_text("not read before connecting\n")
    config_file = tmp_path / "bridge.yaml"
    raw = with_("irc.net.tls", {"cafile": "certs/ca.pem", "certfile": "certs/relay.pem",
                                "keyfile": "certs/relay.key"})
    raw["xmpp"]["acc"]["cafile"] = "certs/ca.pem"
    config_file.write_text(yaml.safe_dump(raw))
    config = load_config(config_file)  # from any working directory: the file's own
    tls = config.irc["net"].tls
    assert (tls.cafile, tls.certfile, tls.keyfile) == tuple(
        str(tmp_path / "certs" / name) for name in ("ca.pem", "relay.pem", "relay.key"))
    assert config.xmpp["acc"].cafile == str(tmp_path / "certs" / "ca.pem")
    # A missing file is the config's error now, not a failed connection every minute.
    for key, raw in [("irc.net.tls.cafile", with_("irc.net.tls", {"cafile": "nope.pem"})),
                     ("irc.net.tls.keyfile", with_("irc.net.tls", {"keyfile": "nope.pem"})),
                     ("xmpp.acc.cafile", with_("xmpp.acc.cafile", "nope.pem"))]:
        with pytest.raises(ConfigError) as e:
            parse_config(raw, "b.yaml", tmp_path)
        assert str(e.value) == f"b.yaml: {key}: no such file: {tmp_path / 'nope.pem'}"
