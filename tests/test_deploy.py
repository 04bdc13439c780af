"""The production path as an operator runs it: processes started from any directory, paths from settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import processes


def _env(tmp_path: Path, var_dir: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SYNDICATE_")}
    env.update(
        SYNDICATE_VAR_DIR=str(var_dir),
        SYNDICATE_DATABASE_URL=f"sqlite:///{tmp_path}/db/syndicate.db",
        SYNDICATE_BROKER_URL=f"sqla+sqlite:///{tmp_path}/broker/broker.db",
        SYNDICATE_FEEDS_DIR=str(tmp_path / "feeds"),
    )
    return env


def test_beat_starts_in_a_fresh_directory_and_creates_its_var_dir(tmp_path):
    """`celery -A workers beat` in a fresh clone crashed: nothing created var/ for its schedule file."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    var_dir = tmp_path / "not" / "yet" / "var"
    beat = processes.start(
        [sys.executable, "-m", "celery", "-A", "workers", "beat", "--loglevel", "INFO"], _env(tmp_path, var_dir), tmp_path / "beat.log", cwd
    )
    try:
        schedule = processes.wait_for(lambda: list(var_dir.glob("celerybeat-schedule*")) or beat.poll() is not None, timeout=60)
        log = (tmp_path / "beat.log").read_text(errors="replace")
        assert beat.poll() is None, log
        assert schedule and list(var_dir.glob("celerybeat-schedule*")), log
        assert not list(cwd.iterdir())  # nothing written relative to the working directory
    finally:
        processes.stop(beat)


def test_a_process_whose_var_dir_cannot_be_created_says_why_and_exits_non_zero(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "workers", "beat"],
        env=_env(tmp_path, blocker / "var"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SYNDICATE_VAR_DIR" in result.stderr and str(blocker / "var") in result.stderr, result.stderr


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "syndicate.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_db_upgrade_says_what_it_did(tmp_path):
    """It said "database is up to date" right after creating the schema."""
    from alembic import command
    from alembic.script import ScriptDirectory

    from syndicate import db

    env = _env(tmp_path, tmp_path / "var")
    url = env["SYNDICATE_DATABASE_URL"]
    head = ScriptDirectory.from_config(db.alembic_config(url)).get_current_head()
    created = _cli(env, tmp_path, "db", "upgrade")
    assert created.returncode == 0, created.stderr
    assert f"created the schema at revision {head}" in created.stdout
    again = _cli(env, tmp_path, "db", "upgrade")
    assert again.returncode == 0 and f"already at revision {head}" in again.stdout, again.stdout
    command.downgrade(db.alembic_config(url), "-1")
    previous = db.current_revision(url)
    assert previous and previous != head
    upgraded = _cli(env, tmp_path, "db", "upgrade")
    assert upgraded.returncode == 0 and f"upgraded from revision {previous} to {head}" in upgraded.stdout, upgraded.stdout


def test_every_queue_has_its_own_exchange_and_routing_key_and_the_banner_says_so():
    """The worker banner listed every queue as `exchange=maintenance key=maintenance` (the default exchange)."""
    import celeryconfig
    from workers import app

    app.loader.import_default_modules()
    names = [queue.name for queue in celeryconfig.task_queues]
    for queue in celeryconfig.task_queues:
        assert queue.exchange.name == queue.name == queue.routing_key
        assert queue.exchange.type == "direct"
    banner = app.amqp.queues.format()
    for name in names:
        assert f"{name}" in banner and f"exchange={name}(direct) key={name}" in banner, banner
    for task in app.tasks:
        if task.startswith("syndicate."):
            route = app.amqp.router.route({}, task)
            assert route["queue"].name in names
            assert route["queue"].exchange.name == route["queue"].name == route["queue"].routing_key


def test_settings_that_depend_on_the_working_directory_are_named_at_start(tmp_path, monkeypatch):
    from syndicate.settings import Settings

    monkeypatch.chdir(tmp_path)
    absolute = Settings(var_dir=tmp_path / "var", feeds_dir=tmp_path / "feeds", database_url="sqlite:///x.db")
    assert absolute.startup_warnings() == []
    relative = Settings(var_dir="var", feeds_dir=tmp_path / "feeds", database_url="postgresql+psycopg://db.internal/syndicate")
    warnings = relative.startup_warnings()
    assert len(warnings) == 2
    assert warnings[0].startswith("SYNDICATE_VAR_DIR=var is relative") and str(tmp_path / "var") in warnings[0]
    assert warnings[1] == "SYNDICATE_PUBLIC_URL is not set: feeds and links name themselves http://127.0.0.1:8000"
    public = Settings(
        var_dir=tmp_path, feeds_dir=tmp_path, database_url="postgresql+psycopg://db/s", public_url="https://feeds.example.org"
    )
    assert public.startup_warnings() == []


def test_beat_with_a_relative_var_dir_says_where_it_resolved_it(tmp_path):
    cwd = tmp_path / "run"
    cwd.mkdir()
    env = _env(tmp_path, Path("var"))
    beat = processes.start([sys.executable, "-m", "celery", "-A", "workers", "beat", "--loglevel", "INFO"], env, tmp_path / "beat.log", cwd)
    try:
        said = processes.wait_for(
            lambda: "SYNDICATE_VAR_DIR=var is relative" in (tmp_path / "beat.log").read_text(errors="replace"), timeout=60
        )
        log = (tmp_path / "beat.log").read_text(errors="replace")
        assert said and f"as {cwd / 'var'}" in log, log
        assert beat.poll() is None and list((cwd / "var").glob("celerybeat-schedule*")), log
    finally:
        processes.stop(beat)
