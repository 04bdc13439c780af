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


def _processes():
    """(pid, state, ppid, pgid) of every process, read from /proc (no signal sent)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state, ppid, pgid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:3]
            except (OSError, ValueError):
                continue
            yield int(entry.name), state, int(ppid), int(pgid)


def group_members(pgid: int) -> list[int]:
    """PIDs of live processes in a process group."""
    return [pid for pid, state, _, group in _processes() if group == pgid and state != "Z"]


def children_of(pid: int) -> list[int]:
    """PIDs of the direct children of ``pid``."""
    return [child for child, _, parent, _ in _processes() if parent == pid]


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
