"""config/words-production.yaml and config/words.service: valid, consistent, accepted by check-config."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
import yaml
from support import REPO, run_words

PRODUCTION = REPO / "config" / "words-production.yaml"
UNIT = REPO / "config" / "words.service"
CREDENTIALS = "/run/credentials/words.service/"


def unit_directives() -> dict[str, list[str]]:
    """The unit's directives, each with every value it is given (some repeat)."""
    directives: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            directives.setdefault(key, []).append(value)
    return directives


@pytest.fixture(scope="module")
def production() -> dict:
    return yaml.safe_load(PRODUCTION.read_text())


def test_the_production_config_is_yaml_with_what_production_needs(production):
    tls, plain = production["listen"]
    assert tls["address"].endswith(":6697") and set(tls["tls"]) >= {"cert", "key"}
    assert plain.endswith(":6667")
    assert production["realm"]["database"].startswith("sqlite:////var/lib/words/")
    assert production["log_format"] == "json"
    assert production["metrics"]["listen"].startswith("127.0.0.1:")
    assert production["cloak"]["secret"]
    assert production["opers"] == []  # the example oper block is commented out
    assert {"max_per_ip", "sendq", "flood_burst", "registration_timeout"} <= set(production["limits"])


def test_check_config_finds_only_the_missing_certificate():
    result = run_words("check-config", str(PRODUCTION))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"words: error: {PRODUCTION}: listen[0].tls.cert: no such file: {CREDENTIALS}tls-cert"
    )


def test_with_the_certificate_in_place_check_config_accepts_it(tmp_path):
    """The same file with the credentials' paths pointing at a real certificate: OK."""
    ca = trustme.CA()
    leaf = ca.issue_cert("irc.example.org")
    cert, key = tmp_path / "tls-cert", tmp_path / "tls-key"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    leaf.private_key_pem.write_to_path(str(key))
    text = PRODUCTION.read_text()
    for name in ("cert", "key"):
        assert text.count(f"{name}: {CREDENTIALS}") == 1
        text = text.replace(f"{name}: {CREDENTIALS}", f"{name}: {tmp_path}/")
    copy = tmp_path / "words.yaml"
    copy.write_text(text)
    result = run_words("check-config", str(copy))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{copy}: OK"


def test_the_unit_runs_words_serve_hardened():
    unit = unit_directives()
    assert unit["ExecStart"] == ["/usr/local/bin/words serve --config /etc/words/words.yaml"]
    assert unit["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["DynamicUser"] == ["yes"]
    assert unit["NoNewPrivileges"] == ["yes"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["StateDirectory"] == ["words"]
    assert unit["CapabilityBoundingSet"] == [""]


def test_the_unit_and_the_production_config_agree(production):
    unit = unit_directives()
    # The database is in the only writable directory: the StateDirectory.
    state = f"/var/lib/{unit['StateDirectory'][0]}/"
    assert production["realm"]["database"].removeprefix("sqlite:///").startswith(state)
    # The TLS files are the credentials the unit loads.
    loaded = {value.split(":", 1)[0] for value in unit["LoadCredential"]}
    files = production["listen"][0]["tls"]
    assert {files["cert"], files["key"]} == {CREDENTIALS + name for name in loaded}
    # Enough descriptors for max_clients.
    assert int(unit["LimitNOFILE"][0]) > production["limits"]["max_clients"]


def test_systemd_accepts_the_unit(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    words = Path(sys.executable).parent / "words"
    unit = tmp_path / "words.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/words", str(words)))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr


def test_the_readme_points_to_both():
    readme = (REPO / "README.md").read_text()
    assert "config/words.service" in readme and "config/words-production.yaml" in readme
