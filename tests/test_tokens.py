"""API tokens: shown once, stored hashed, scoped, revocable; and the ``syndicate token`` commands."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys

import pytest
from sqlalchemy import select

from syndicate.access import tokens
from syndicate.errors import NotFound
from syndicate.models import ApiToken, AuditEntry
from tests.conftest import ROOT, cli_env
from tests.support.api_fixtures import make_city


def test_secret_is_random_and_only_its_hash_is_stored(session):
    make_city(session, "muenchen", "München")
    first, secret = tokens.create(session, city="muenchen", name="Presseamt")
    _, other = tokens.create(session, city="muenchen")
    assert secret != other and secret.startswith("syn_") and len(secret) >= 40
    row = session.get(ApiToken, first.id)
    assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in (row.token_hash, row.prefix) and secret.startswith(row.prefix)
    assert (row.scope, row.city.slug, row.name) == ("city", "muenchen", "Presseamt")
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "token.create", AuditEntry.target_id == first.id))
    assert entry.actor == "cli" and secret not in json.dumps(entry.after) and row.token_hash not in json.dumps(entry.after)


def test_verify_gives_the_scope_and_touches_last_used(session):
    make_city(session, "augsburg")
    city_token, city_secret = tokens.create(session, city="augsburg")
    operator_token, operator_secret = tokens.create(session)
    assert city_token.last_used_at is None
    principal = tokens.verify(session, city_secret)
    assert (principal.token_id, principal.scope, principal.city_slug) == (city_token.id, "city", "augsburg")
    assert principal.may_touch(city_token.city_id) and not principal.may_touch(city_token.city_id + 1)
    assert principal.actor == f"token:{city_token.id} city:augsburg"
    session.expire_all()
    assert session.get(ApiToken, city_token.id).last_used_at is not None
    operator = tokens.verify(session, operator_secret)
    assert operator.is_operator and operator.may_touch(12345) and operator.city_id is None


@pytest.mark.parametrize("presented", ["", "syn_", "syn_falsch", "Bearer x", "x" * 500, "syn_" + "a" * 43])
def test_unknown_or_malformed_secrets_are_refused(session, presented):
    make_city(session, "muenchen")
    tokens.create(session, city="muenchen")
    assert tokens.verify(session, presented) is None


def test_comparison_is_constant_time(session, monkeypatch):
    make_city(session, "muenchen")
    _, secret = tokens.create(session, city="muenchen")
    calls, real = [], hmac.compare_digest

    def recording(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", recording)
    assert tokens.verify(session, secret) is not None
    assert calls == [(hashlib.sha256(secret.encode()).hexdigest(),) * 2]


def test_revoked_token_is_refused_and_revoking_is_audited(session):
    make_city(session, "muenchen")
    token, secret = tokens.create(session, city="muenchen")
    tokens.revoke(session, token.id, actor="cli")
    assert tokens.verify(session, secret) is None
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "token.revoke"))
    assert entry.before["revoked_at"] is None and entry.after["revoked_at"] is not None
    with pytest.raises(NotFound):
        tokens.revoke(session, 999999)


def test_unknown_city_gets_no_token(session):
    with pytest.raises(NotFound) as caught:
        tokens.create(session, city="nirgendwo")
    assert caught.value.reason == "city_not_found"


def _syndicate(settings, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "syndicate.cli", *args], env=cli_env(settings), cwd=ROOT, capture_output=True, text=True, timeout=60
    )


@pytest.mark.slow
def test_cli_create_list_revoke(settings, runtime, session, api):
    created = _syndicate(settings, "token", "create", "--city", "muenchen", "--name", "Presse", "--json")
    assert created.returncode == 0, created.stderr
    shown = json.loads(created.stdout)
    assert set(shown) >= {"id", "token"} and shown["token"].startswith("syn_")
    assert api.client.get("/api/v1/cities/muenchen/sources", headers={"Authorization": f"Bearer {shown['token']}"}).status_code == 200

    plain = _syndicate(settings, "token", "create", "--operator")
    assert plain.returncode == 0 and plain.stdout.strip().splitlines()[-1].startswith("syn_")

    listed = _syndicate(settings, "token", "list", "--json")
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    mine = next(r for r in rows if r["id"] == shown["id"])
    assert (mine["scope"], mine["city"], mine["name"]) == ("city", "muenchen", "Presse") and mine["last_used_at"]
    assert shown["token"] not in listed.stdout and "token_hash" not in listed.stdout

    revoked = _syndicate(settings, "token", "revoke", str(shown["id"]))
    assert revoked.returncode == 0, revoked.stderr
    answer = api.client.get("/api/v1/cities/muenchen/sources", headers={"Authorization": f"Bearer {shown['token']}"})
    assert answer.status_code == 401 and answer.json()["reason"] == "invalid_token"


@pytest.mark.slow
@pytest.mark.parametrize("args", [[], ["--city", "muenchen", "--operator"], ["--city", "nirgendwo"]])
def test_cli_create_needs_exactly_one_known_scope(settings, runtime, args):
    result = _syndicate(settings, "token", "create", *args)
    assert result.returncode == 2 and "syn_" not in result.stdout
