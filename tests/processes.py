"""Start and stop real child processes (Celery worker, beat, ``syndicate up``) for tests."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def start(cmd: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen:
    handle = log.open("wb")
    return subprocess.Popen(cmd, env=env, cwd=cwd, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def group_members(pgid: int) -> list[int]:
    """PIDs of live processes in a process group, read from /proc (no signal sent)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def stop(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """SIGTERM the child's group, wait, then SIGKILL whatever of that group is left."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def wait_for(predicate, timeout: float, interval: float = 0.5):
    """Poll ``predicate`` until it returns something truthy; return it, or None on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return None
