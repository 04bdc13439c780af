"""The shipped Prometheus rules (deploy/prometheus/): valid for promtool, firing in promtool's own rule tests,
and written only over metrics that /metrics really exports."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from syndicate.clock import utcnow
from syndicate.ingest.due import record_tick
from tests.conftest import ROOT
from tests.support.ops_fixtures import client, healthy_and_failing

RULES = ROOT / "deploy" / "prometheus" / "syndicate-alerts.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "syndicate-alerts.test.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool is not installed (Debian: prometheus)")


@needs_promtool
def test_promtool_checks_the_rules():
    result = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


@needs_promtool
def test_the_rules_fire_in_promtools_rule_tests():
    result = subprocess.run([PROMTOOL, "test", "rules", RULE_TESTS.name], cwd=RULE_TESTS.parent, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "SUCCESS" in result.stdout, result.stdout + result.stderr


def test_every_metric_in_the_rules_is_exported(settings, runtime, session, feed_server, topics):
    healthy_and_failing(runtime, session, feed_server)
    record_tick(session, utcnow(), 0)  # the beat metrics exist once beat has ticked
    session.commit()
    with client(settings) as c:
        exported = c.get("/metrics").text
    used = set(re.findall(r"\bsyndicate_[a-z_]+", RULES.read_text(encoding="utf-8")))
    assert {"syndicate_workers_online", "syndicate_beat_lag_seconds", "syndicate_queue_depth", "syndicate_sources_broken"} <= used
    for name in used:
        assert re.search(rf"^{name}[{{ ]", exported, flags=re.M), f"{name} is not in /metrics"
    assert 'syndicate_alert_active{alert="queue_growing"}' in exported


DASHBOARD = ROOT / "deploy" / "grafana" / "syndicate-dashboard.json"


def dashboard_exprs() -> list[str]:
    import json

    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def test_every_metric_on_the_grafana_dashboard_is_exported(settings, runtime, session, feed_server, topics):
    healthy_and_failing(runtime, session, feed_server)
    record_tick(session, utcnow(), 0)
    session.commit()
    with client(settings) as c:
        exported = c.get("/metrics").text
    exprs = dashboard_exprs()
    assert len(exprs) >= 8
    for expr in exprs:
        for name in re.findall(r"\bsyndicate_[a-z_]+", expr):
            assert re.search(rf"^{name}[{{ ]", exported, flags=re.M), f"{name} ({expr}) is not in /metrics"


@needs_promtool
def test_the_dashboards_queries_are_valid_promql(tmp_path):
    """promtool parses each query as the expression of a recording rule."""
    rules = "groups:\n  - name: dashboard\n    rules:\n" + "".join(
        f"      - record: syndicate_dashboard_{i}\n        expr: {expr!r}\n" for i, expr in enumerate(dashboard_exprs())
    )
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(rules.replace("\\'", "''"), encoding="utf-8")
    result = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
