"""The ``syndicate`` command as a child process against the test settings."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import cli_env


def syndicate(settings, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "syndicate.cli", *args],
        env=cli_env(settings, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]
