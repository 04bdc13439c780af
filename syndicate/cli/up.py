"""``syndicate up``: API, Celery worker and beat as child processes, stopped together.

Each child runs in its own process group, so stopping a child also stops the
processes it started (a prefork pool, say). On Ctrl-C, SIGTERM or the death of
any child, every group gets SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

GRACE_SECONDS = 15.0


@dataclass
class Child:
    name: str
    process: subprocess.Popen


def commands(host: str, port: int, var_dir: str, concurrency: int) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "api": [python, "-m", "uvicorn", "syndicate.web.app:create_app", "--factory", "--host", host, "--port", str(port)],
        "worker": [
            python,
            "-m",
            "celery",
            "-A",
            "workers",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "-E",
            "-n",
            "syndicate@%h",
        ],
        "beat": [
            python,
            "-m",
            "celery",
            "-A",
            "workers",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            os.path.join(var_dir, "celerybeat-schedule"),
        ],
    }


CELERY_QUEUES = ("refresh", "websub", "maintenance", "mail")  # as in celeryconfig.task_queues


def declare_queues(broker_url: str, names: tuple[str, ...] = CELERY_QUEUES) -> None:
    """Create the queues before worker and beat start: on a fresh embedded broker both would
    create them at once, and the loser of that race dies on kombu_queue's unique name."""
    from kombu import Connection, Queue

    from syndicate.db import ensure_sqlite_dir

    if broker_url.startswith("sqla+"):
        ensure_sqlite_dir(broker_url.removeprefix("sqla+"))
    with Connection(broker_url) as connection:
        channel = connection.channel()
        for name in names:
            Queue(name, channel=channel).declare()


def start(cmds: dict[str, list[str]], env: dict[str, str]) -> list[Child]:
    return [Child(name, subprocess.Popen(cmd, env=env, start_new_session=True)) for name, cmd in cmds.items()]


def stop(children: list[Child], grace: float = GRACE_SECONDS) -> None:
    for child in children:
        _signal_group(child, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for child in children:  # whatever is left of each group, including grandchildren
        _signal_group(child, signal.SIGKILL)
        child.process.wait()


def _signal_group(child: Child, sig: int) -> None:
    try:
        os.killpg(child.process.pid, sig)
    except ProcessLookupError:
        pass


def supervise(children: list[Child]) -> int:
    """Wait until a signal arrives or a child dies; then stop all. Returns the exit code."""
    stopping: dict[str, int | None] = {"signal": None}

    def on_signal(signum, _frame):
        stopping["signal"] = signum

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while stopping["signal"] is None:
            dead = [c for c in children if c.process.poll() is not None]
            if dead:
                print(f"syndicate: {dead[0].name} exited with {dead[0].process.returncode}; stopping", file=sys.stderr)
                stop(children)
                return 1
            time.sleep(0.3)
        stop(children)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
