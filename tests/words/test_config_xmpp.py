"""The `xmpp:` section of the config: the gateway's settings, each checked by name."""

from __future__ import annotations

import pytest

from words.config import XMPP, ConfigError, config_from_mapping


def load(xmpp) -> XMPP | None:
    return config_from_mapping({"xmpp": xmpp}, "words.yaml").xmpp


def test_no_section_means_no_gateway() -> None:
    assert config_from_mapping({}, "words.yaml").xmpp is None


def test_a_full_section_is_read() -> None:
    config = load({
        "component": "IRC.Example.org", "secret": "s3cret", "host": "xmpp.example.org",
        "port": 5347, "trusted_domains": ["Example.org"], "unknown_jids": "refuse",
        "grace_seconds": 10, "formatting": "strip", "reconnect_min": 0.5,
        "reconnect_max": 30, "history": 0,
    })
    assert config == XMPP(
        component="irc.example.org", secret="s3cret", host="xmpp.example.org", port=5347,
        trusted_domains=("example.org",), unknown_jids="refuse", grace_seconds=10.0,
        formatting="strip", reconnect_min=0.5, reconnect_max=30.0, history=0,
    )
    assert "s3cret" not in repr(config)


def test_defaults() -> None:
    config = load({"component": "irc.example.org", "secret": "x"})
    assert (config.host, config.port, config.unknown_jids, config.formatting) == (
        "127.0.0.1", 5347, "guest", "styling")
    assert (config.grace_seconds, config.reconnect_min, config.reconnect_max) == (30.0, 1.0, 60.0)


@pytest.mark.parametrize(("xmpp", "key", "problem"), [
    ({"secret": "x"}, "xmpp.component", "is required"),
    ({"component": "irc.example.org"}, "xmpp.secret", "is required"),
    ({"component": "irc", "secret": "x"}, "xmpp.component", "must be a domain name"),
    ({"component": "irc.example.org", "secret": "x", "port": 70000}, "xmpp.port", "at most 65535"),
    ({"component": "irc.example.org", "secret": "x", "unknown_jids": "allow"},
     "xmpp.unknown_jids", "'allow' is not one of guest, refuse"),
    ({"component": "irc.example.org", "secret": "x", "formatting": "html"},
     "xmpp.formatting", "'html' is not one of styling, strip"),
    ({"component": "irc.example.org", "secret": "x", "trusted_domains": "example.org"},
     "xmpp.trusted_domains", "must be a list"),
    ({"component": "irc.example.org", "secret": "x", "trusted_domains": ["a@b.c"]},
     "xmpp.trusted_domains[0]", "must be a domain name"),
    ({"component": "irc.example.org", "secret": "x", "grace_seconds": 0},
     "xmpp.grace_seconds", "must be positive"),
    ({"component": "irc.example.org", "secret": "x", "reconnect_min": 5, "reconnect_max": 2},
     "xmpp.reconnect_max", "must not be less than xmpp.reconnect_min"),
    ({"component": "irc.example.org", "secret": "x", "relay": True}, "xmpp.relay", "unknown key"),
])
def test_a_bad_section_names_the_file_the_key_and_the_problem(xmpp, key, problem) -> None:
    with pytest.raises(ConfigError) as info:
        load(xmpp)
    assert info.value.source == "words.yaml"
    assert info.value.key == key
    assert problem in info.value.problem


def test_the_shipped_example_loads() -> None:
    from support import REPO

    from words.config import load_config

    config = load_config(str(REPO / "config" / "words-xmpp.yaml"))
    assert config.xmpp == XMPP(
        component="irc.example.org", secret="change-this-component-secret",
        trusted_domains=("example.org",),
    )
