"""Configuration loading: every error names the file, the key and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from words.app import build_server
from words.config import ConfigError, Listen, load_config

REPO = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "words.yaml"
    path.write_text(text)
    return path


def error_for(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"{path}: ")
    return str(info.value)[len(str(path)) + 2 :]


def test_no_config_gives_the_embedded_default():
    config = load_config(None)
    assert config.listen == (Listen("127.0.0.1", 6667),)
    assert config.auth == ("anonymous",)
    assert config.create_groups_on_request


def test_an_empty_file_gives_the_defaults(tmp_path):
    assert load_config(write(tmp_path, "")).listen == (Listen("127.0.0.1", 6667),)


def test_the_shipped_config_loads():
    config = load_config(REPO / "config" / "words.yaml")
    assert config.server_name == "irc.example.org"
    assert config.realm == "example.org"
    assert config.limits.sendq == 1048576


def test_values_are_read(tmp_path):
    path = write(tmp_path, """
server: {name: irc.example.net, network: Net, motd: "hi"}
listen: ["0.0.0.0:7000", "[::1]:7001"]
realm: {casemapping: ascii, create_groups_on_request: false}
limits: {nicklen: 9, ping_timeout: 2.5}
""")
    config = load_config(path)
    assert config.listen == (Listen("0.0.0.0", 7000), Listen("::1", 7001))
    assert config.casemapping == "ascii" and not config.create_groups_on_request
    assert config.limits.nicklen == 9 and config.limits.ping_timeout == 2.5
    assert config.motd == "hi"


def test_relative_password_files_are_relative_to_the_config(tmp_path):
    config = load_config(write(tmp_path, "auth: [anonymous, 'file:passwords.txt']\n"))
    assert config.auth == ("anonymous", f"file:{tmp_path / 'passwords.txt'}")


def test_motd_file_is_read_relative_to_the_config(tmp_path):
    (tmp_path / "motd.txt").write_text("line one\nline two\n")
    config = load_config(write(tmp_path, "server: {motd_file: motd.txt}\n"))
    assert config.motd.splitlines() == ["line one", "line two"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("listen: [localhost]", "listen[0]: expected HOST:PORT, got 'localhost'"),
        ("listen: ['127.0.0.1:99999']", "listen[0]: port 99999 in '127.0.0.1:99999' is out of range 0-65535"),
        ("listen: []", "listen: must be a non-empty list of HOST:PORT strings"),
        ("limits: {nicklen: many}", "limits.nicklen: must be a whole number, got 'many'"),
        ("limits: {ping_timeout: 0}", "limits.ping_timeout: must be positive, got 0"),
        ("limits: {nicklen: true}", "limits.nicklen: must be a whole number, got True"),
        ("limits: {colour: 3}", "limits.colour: unknown key"),
        ("realm: {casemapping: unicode}", "realm.casemapping: 'unicode' is not one of rfc1459, ascii"),
        ("realm: {create_groups_on_request: yes please}", "realm.create_groups_on_request: must be true or false"),
        ("server: {name: localhost}", "server.name: must look like a host name"),
        ("server: {network: Two Words}", "server.network: must not contain spaces"),
        ("server: {motd_file: missing.txt}", "server.motd_file: cannot read"),
        ("auth: []", "auth: must be a non-empty list of auth strings"),
        ("auth: [3]", "auth[0]: must be a string, got int"),
        ("hashing: {cost: 3}", "hashing.cost: unknown key"),
        ("log_level: loud", "log_level: 'loud' is not one of debug, info, warning, error"),
        ("event_loop: trio", "event_loop: 'trio' is not one of asyncio, uvloop"),
        ("- just\n- a list", "(top level): must be a mapping, got list"),
        ("server: [oops", "line 1: not valid YAML"),
    ],
)
def test_errors_name_the_key_and_the_problem(tmp_path, text, expected):
    assert error_for(tmp_path, text).startswith(expected)


def test_a_missing_file_is_named(tmp_path):
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match=f"{missing}: \\(file\\): cannot read"):
        load_config(missing)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("auth: ['ldap:server']", "auth[0]: "),
        ("auth: [anonymous, 'memory:alice']", "auth[1]: "),
        ("hashing: {ln: 40}", "hashing: scrypt parameters out of range"),
    ],
)
def test_auth_and_hashing_errors_name_their_key(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        build_server(load_config(path))
    assert str(info.value).startswith(f"{path}: {expected}")


def test_opers_need_a_hash_never_plaintext(tmp_path):
    assert error_for(tmp_path, "opers: [{name: root, password: hunter2}]").startswith(
        "opers[0].password: must be a hash made with `words hashpw`"
    )
    assert error_for(tmp_path, "opers: [{password: x}]").startswith("opers[0].name: is required")


def test_opers_are_read(tmp_path):
    from words.cred import PasswordHasher

    digest = PasswordHasher(ln=4).hash("pw")
    config = load_config(write(tmp_path, f"""
opers:
  - name: root
    password: "{digest}"
    hosts: ["*@127.0.0.1"]
    override: true
admin: {{location: Here, email: admin@example.org}}
allow_die: true
limits: {{per_ip_exempt: ["10.1.1.1"], flood_rate: 0.5}}
"""))
    (oper,) = config.opers
    assert oper.name == "root" and oper.hosts == ("*@127.0.0.1",) and oper.override
    assert "pw" not in repr(oper)
    assert config.admin == ("Here", "", "admin@example.org")
    assert config.allow_die and not config.allow_restart
    assert config.limits.per_ip_exempt == ("10.1.1.1",) and config.limits.flood_rate == 0.5


def test_database_url_is_checked_and_sqlite_files_are_relative_to_the_config(tmp_path):
    config = load_config(write(tmp_path, "realm: {database: 'sqlite:///words.db'}\n"))
    assert config.database == f"sqlite:///{tmp_path / 'words.db'}"
    assert error_for(tmp_path, "realm: {database: 'nonsense'}").startswith(
        "realm.database: not a database URL: 'nonsense'"
    )
    assert error_for(tmp_path, "realm: {database: 'mysql://x/y'}").startswith(
        "realm.database: mysql is not supported"
    )


def test_sts_needs_a_tls_listener_and_a_duration(tmp_path):
    assert error_for(tmp_path, "sts: {duration: 10}").startswith("sts: needs a TLS listener")
    (tmp_path / "c.pem").write_text("x")
    listen = "listen: [{address: '127.0.0.1:6697', tls: {cert: c.pem, key: c.pem}}]\n"
    assert error_for(tmp_path, listen + "sts: {}").startswith("sts.duration: is required")
    config = load_config(write(tmp_path, listen + "sts: {duration: 60}"))
    assert (config.sts.port, config.sts.duration, config.sts.preload) == (6697, 60, False)
