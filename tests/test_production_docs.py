"""The production docs and the systemd units say only what exists: every command in a ``sh`` block of
docs/production.md and every unit's ExecStart names a real subcommand with real options, every file
under deploy/ it mentions is there, and ``systemd-analyze verify`` accepts the units."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "production.md"
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
ONLY_SYNTAX = {"export", "pip", "useradd", "install", "systemctl"}  # system tools: parsed, not run


def doc_commands() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"^```sh\n(.*?)^```", text, flags=re.S | re.M)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip() and not line.strip().startswith("#")]


def unit_commands() -> list[tuple[str, str]]:
    found = []
    for unit in UNITS:
        for line in unit.read_text(encoding="utf-8").splitlines():
            if line.startswith("ExecStart="):
                found.append((unit.name, line.removeprefix("ExecStart=").replace("/opt/syndicate/.venv/bin/", "")))
    return found


@functools.cache
def help_text(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "250", "TERM": "dumb", "NO_COLOR": "1"}
    result = subprocess.run([sys.executable, "-m", *args, "--help"], capture_output=True, text=True, timeout=60, env=env, cwd=ROOT)
    assert result.returncode == 0, (args, result.stderr[-2000:])
    return result.stdout


def options(words: list[str]) -> list[str]:
    return [word.split("=", 1)[0] for word in words if word.startswith("-")]


def assert_options_exist(help_: str, words: list[str], command: str) -> None:
    for option in options(words):
        assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", help_), f"{command}: {option} is not an option"


def check(command: str) -> None:
    words = shlex.split(command, comments=True)
    for word in words:
        if word.startswith("deploy/"):
            assert (ROOT / word).exists(), f"{command}: {word} does not exist"
    program, args = words[0], words[1:]
    if program in ONLY_SYNTAX:
        return
    if program == "syndicate":
        sub = [word for word in args if not word.startswith("-")]
        assert_options_exist(help_text("syndicate.cli", *sub), args, command)
    elif program == "celery":
        assert args[:2] == ["-A", "workers"], command
        sub = args[2]
        if sub == "flower" and importlib.util.find_spec("flower") is None:
            return  # not installed here: parsed only
        rest = [word for word in args[3:] if not word.startswith("-")]
        if sub == "inspect":
            from celery.app.control import Inspect

            help_text("celery", "-A", "workers", "inspect")
            assert rest and callable(getattr(Inspect, rest[0], None)), command
        else:
            assert_options_exist(help_text("celery", "-A", "workers", sub), args[3:], command)
    elif program == "uvicorn":
        assert_options_exist(help_text("uvicorn"), args, command)
        module, _, name = args[0].partition(":")
        assert callable(getattr(importlib.import_module(module), name)), command
    else:
        pytest.fail(f"{command}: unknown program {program}")


def test_the_production_doc_has_the_commands_it_should():
    commands = doc_commands()
    programs = {shlex.split(c)[0] for c in commands}
    assert {"syndicate", "celery", "uvicorn"} <= programs
    assert any("--loglevel INFO" in c for c in commands if " worker " in c)
    text = DOC.read_text(encoding="utf-8")
    for needle in ("SYNDICATE_PUBLIC_URL", "SYNDICATE_VAR_DIR", "FLOWER_UNAUTHENTICATED_API", "--basic-auth", "deploy/systemd"):
        assert needle in text, needle
    assert "redis://127.0.0.1:6379/0 celery" not in text and "SYNDICATE_BROKER_URL=redis" not in text.split("Flower")[-1]


@pytest.mark.parametrize("command", doc_commands())
def test_every_documented_command_exists(command):
    check(command)


@pytest.mark.parametrize(("unit", "command"), unit_commands())
def test_every_unit_runs_a_command_that_exists(unit, command):
    check(command.replace("%i", "1").replace("%H", "host"))


def test_the_units_are_the_four_roles_with_hardening_and_restarts():
    names = {unit.name for unit in UNITS}
    assert names == {"syndicate-api@.service", "syndicate-refresh@.service", "syndicate-delivery.service", "syndicate-beat.service"}
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8")
        for needle in ("User=syndicate", "EnvironmentFile=", "Restart=", "MemoryMax=", "ProtectSystem=strict", "NoNewPrivileges=yes"):
            assert needle in text, (unit.name, needle)
        assert "%h" not in text  # systemd would expand it to the home directory, not the host name


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed (Debian: systemd)")
def test_systemd_analyze_verify_accepts_the_units(tmp_path):
    """The units as installed, with /opt/syndicate/.venv pointed at this virtual environment (verify checks
    that ExecStart is executable) and the example environment file; any warning fails the test."""
    venv = Path(sys.executable).parent.parent
    env_file = ROOT / "deploy" / "systemd" / "syndicate.env.example"
    instances = {"syndicate-api@.service": "syndicate-api@8000.service", "syndicate-refresh@.service": "syndicate-refresh@1.service"}
    paths = []
    for unit in UNITS:
        text = (
            unit.read_text(encoding="utf-8")
            .replace("/opt/syndicate/.venv", str(venv))
            .replace("/etc/syndicate/syndicate.env", str(env_file))
        )
        target = tmp_path / instances.get(unit.name, unit.name)
        target.write_text(text, encoding="utf-8")
        paths.append(str(target))
    result = subprocess.run(["systemd-analyze", "verify", "--man=no", *paths], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr
