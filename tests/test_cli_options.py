"""Options of the ``syndicate`` command itself, run in this process."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from syndicate import demo
from syndicate.cli import app
from syndicate.settings import get_settings


@pytest.fixture
def var_dir(tmp_path, monkeypatch):
    """A var directory of its own, and every setting the demo option changes restored afterwards."""
    for name in [*demo.environment(tmp_path), "SYNDICATE_VAR_DIR"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SYNDICATE_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def test_demo_option_points_a_command_at_the_demo_database(var_dir):
    result = CliRunner().invoke(app, ["--demo", "db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert (var_dir / "demo.db").is_file()
    assert not (var_dir / "syndicate.db").exists()
    assert get_settings().database_url == f"sqlite:///{var_dir}/demo.db"
    assert get_settings().feeds_dir == var_dir / "demo" / "feeds"


def test_without_the_demo_option_the_real_database(var_dir):
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert not (var_dir / "demo.db").exists()
    assert get_settings().database_url == "sqlite:///var/syndicate.db"
