"""deploy/container: the compose file runs the documented commands, and the image the same steps as the
systemd units. Neither was built or started here (no container daemon, no image registry)."""

from __future__ import annotations

import json
import shlex

import yaml

from tests.conftest import ROOT
from tests.test_production_docs import check, doc_commands

COMPOSE = ROOT / "deploy" / "container" / "compose.yaml"
CONTAINERFILE = ROOT / "deploy" / "container" / "Containerfile"


def without_host(words: list[str]) -> list[str]:
    """A command with its --host value left out (the container listens on all its interfaces)."""
    if "--host" in words:
        at = words.index("--host")
        return words[:at] + words[at + 2 :]
    return words


def documented() -> list[list[str]]:
    return [without_host(shlex.split(line, comments=True)) for line in doc_commands()]


def test_every_role_in_the_compose_file_runs_a_documented_command():
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    assert {"postgres", "redis", "migrate", "api", "refresh", "delivery", "beat"} <= set(services)
    for name in ("api", "refresh", "delivery", "beat"):
        command = services[name]["command"]
        assert without_host(command) in documented(), (name, command)
        check(shlex.join(command))
    steps = services["migrate"]["command"][-1].split(" && ")
    assert [shlex.split(step) for step in steps] == [["syndicate", "db", "upgrade"], ["syndicate", "sources", "sync"]]
    for step in steps:
        assert shlex.split(step) in documented()
    environment = services["api"]["environment"]
    assert {"SYNDICATE_DATABASE_URL", "SYNDICATE_BROKER_URL", "SYNDICATE_PUBLIC_URL"} <= set(environment)
    assert services["beat"].get("volumes"), "beat keeps its schedule in SYNDICATE_VAR_DIR"


def test_the_image_is_built_like_the_units():
    text = CONTAINERFILE.read_text(encoding="utf-8")
    units = "".join(path.read_text(encoding="utf-8") for path in (ROOT / "deploy" / "systemd").glob("*.service"))
    for setting in ("SYNDICATE_VAR_DIR=/var/lib/syndicate", "SYNDICATE_FEEDS_DIR=/etc/syndicate/feeds"):
        assert setting in text and setting in units
    assert "/opt/syndicate/.venv/bin/pip install" in text and "/opt/syndicate/.venv/bin/" in units
    assert "USER syndicate" in text and "User=syndicate" in units
    cmd = json.loads(text.split("\nCMD ", 1)[1].splitlines()[0])
    services = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]
    assert cmd == services["api"]["command"]
    for line in text.splitlines():  # every file the image copies exists in the checkout
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
