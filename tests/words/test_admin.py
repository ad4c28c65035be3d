"""`words account`, `words channel`, `words db` as real subprocesses on a real SQLite file."""

from __future__ import annotations

import pytest
from support import RawClient, free_port, run_words

from words.store.migrations import SCHEMA_VERSION


@pytest.fixture
def database(tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'words.db'}"
    result = run_words("db", "upgrade", "--database", url)
    assert result.returncode == 0, result.stderr
    assert f"schema at version {SCHEMA_VERSION} (was 0)" in result.stdout
    return url


def add(database: str, name: str, password: str):
    return run_words("account", "add", name, "--database", database, "--password-file", "-",
                     input=password + "\n")


def test_db_upgrade_twice_is_up_to_date(database):
    result = run_words("db", "upgrade", "--database", database)
    assert result.returncode == 0 and "up to date" in result.stdout


def test_account_lifecycle(database):
    assert add(database, "Alice", "wonderland").returncode == 0
    listed = run_words("account", "list", "--database", database)
    assert listed.returncode == 0 and "Alice" in listed.stdout and "wonderland" not in listed.stdout
    shown = run_words("account", "show", "alice", "--database", database)
    assert "Alice" in shown.stdout and "SCRAM      no" in shown.stdout
    duplicate = add(database, "ALICE", "x")
    assert duplicate.returncode == 2 and "account ALICE exists already" in duplicate.stderr
    changed = run_words("account", "passwd", "alice", "--database", database, "--password-file", "-",
                        input="looking-glass\n")
    assert changed.returncode == 0 and "password of alice changed" in changed.stdout
    assert run_words("account", "del", "alice", "--database", database).returncode == 0
    gone = run_words("account", "show", "alice", "--database", database)
    assert gone.returncode == 2 and "no account alice" in gone.stderr


def test_errors_are_clear(tmp_path, database):
    nothing = run_words("account", "list")
    assert nothing.returncode == 2 and "no database" in nothing.stderr
    empty = add(database, "bob", "")
    assert empty.returncode == 2 and "empty password" in empty.stderr
    missing = run_words("account", "add", "bob", "--database", database,
                        "--password-file", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "cannot read a password" in missing.stderr
    no_channel = run_words("channel", "show", "#nowhere", "--database", database)
    assert no_channel.returncode == 2 and "no registered channel #nowhere" in no_channel.stderr


def test_scram_verifiers_only_when_the_config_enables_scram(tmp_path):
    config = tmp_path / "words.yaml"
    config.write_text("realm: {database: 'sqlite:///words.db'}\nscram: true\n")
    result = run_words("account", "add", "carol", "--config", str(config), "--password-file", "-",
                       input="pw\n")
    assert result.returncode == 0, result.stderr
    assert "SCRAM      yes" in run_words("account", "show", "carol", "--config", str(config)).stdout


async def test_an_account_made_on_the_command_line_logs_in_to_the_server(tmp_path, words_process):
    config = tmp_path / "words.yaml"
    config.write_text("realm: {database: 'sqlite:///words.db'}\nauth: [anonymous]\n")
    assert run_words("account", "add", "alice", "--config", str(config), "--password-file", "-",
                     input="wonderland\n").returncode == 0
    port = free_port()
    words_process("--config", str(config), port=port)
    client = await RawClient.connect(port)
    await client.register("alice", password="wonderland")
    await client.send("WHOIS alice")
    account = await client.expect("330")
    assert account.params[1:3] == ["alice", "alice"]
    intruder = await RawClient.connect(port)
    await intruder.send("PASS alice:wrong")
    await intruder.send("NICK alice2")
    await intruder.send("USER a 0 * :a")
    await intruder.expect("464")
    for c in (client, intruder):
        await c.close()
