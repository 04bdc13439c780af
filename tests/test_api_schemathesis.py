"""schemathesis against the app's own /openapi.json: no 5xx, every answer as documented.

Runs in-process through the ASGI transport. The app's fetcher gets an address policy that
allows 127.0.0.1 only and never resolves a name, so generated URLs cannot cause traffic
(not even DNS queries) to any other address. Bounded: a few examples per operation.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select

from syndicate.models import City
from syndicate.reader.errors import BlockedAddress
from syndicate.reader.fetch import make_client
from syndicate.reader.netguard import AddressPolicy
from tests.support.api_fixtures import RSS_TYPE, add_source, build_api, rss

pytestmark = pytest.mark.slow  # hundreds of generated requests

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, response_headers_conformance]
EXAMPLES = 20  # per operation and pass


class LoopbackOnly(AddressPolicy):
    """127.0.0.1 as a literal address, nothing else, and no DNS look-up ever."""

    def resolve(self, host: str, port: int, timeout: float | None = None) -> list[str]:
        if host != "127.0.0.1":
            raise BlockedAddress(f"{host}: tests connect to 127.0.0.1 only")
        return [host]


class Fuzzer:
    """Runs bounded schemathesis passes over operations of the app and counts cases and statuses."""

    def __init__(self, app):
        self.schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        self.operations = [result.ok() for result in self.schema.get_all_operations()]
        self.cases, self.statuses = 0, Counter()

    def run(self, operation, headers: dict, checks: list, examples: int = EXAMPLES, **fixed) -> None:
        @given(case=operation.as_strategy(**fixed))
        @hypothesis_settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def one(case):
            self.cases += 1
            response = case.call_and_validate(headers=headers, checks=checks)
            self.statuses[response.status_code] += 1

        one()

    def report(self, capsys, what: str) -> None:
        with capsys.disabled():
            print(
                f"\nschemathesis ({what}): {self.cases} generated cases over {len(self.operations)} operations; "
                f"statuses {dict(sorted(self.statuses.items()))}"
            )


@pytest.fixture
def api_under_fuzz(settings, runtime, topics):
    api = build_api(settings.model_copy(update={"api_rate_limit": 0}), runtime)
    api.app.state.runtime.__dict__["client"] = make_client(LoopbackOnly(), timeout=2.0, user_agent="syndicate-test")
    with api.client:
        yield api


def test_api_answers_conform_to_openapi(api_under_fuzz, runtime, feed_server, capsys):
    api = api_under_fuzz
    feed_server.add("/neu.xml", rss("Neu", ["Eins", "Zwei"]), headers=RSS_TYPE)
    with runtime.sessions() as session:
        muenchen = session.scalar(select(City).where(City.slug == "muenchen"))
        ids = {name: add_source(session, muenchen, f"http://127.0.0.1:9/{name}.xml").id for name in ("edit", "retire", "refresh")}
        add_source(session, muenchen, "http://127.0.0.1:9/datei.xml", origin="file", registry_file="feeds/muenchen.toml")
    fuzz = Fuzzer(api.app)
    fuzz.operations = [op for op in fuzz.operations if op.path.startswith("/api/v1/")]
    for operation in fuzz.operations:
        fuzz.run(operation, api.auth("operator"), CHECKS)
        fuzz.run(operation, {}, CHECKS, examples=3)  # no token
        fuzz.run(operation, api.auth("operator"), CHECKS, generation_mode=GenerationMode.NEGATIVE)  # invalid input: 4xx, documented
        names = {p.name for p in operation.path_parameters}
        if names:  # again on resources that exist, as operator and as the city that owns them
            source = ids["retire" if operation.method == "delete" else "refresh" if "refresh" in operation.path else "edit"]
            fixed = {"path_parameters": {n: v for n, v in {"city": "muenchen", "source_id": source}.items() if n in names}}
            if operation.method == "post" and operation.path.endswith("/sources"):
                fuzz.run(operation, api.auth("muenchen"), CHECKS, examples=3, body={"url": feed_server.url("/neu.xml")}, **fixed)
            fuzz.run(operation, api.auth("operator"), CHECKS, **fixed)
            fuzz.run(operation, api.auth("muenchen"), CHECKS, **fixed)
    fuzz.report(capsys, "/api/v1")
    assert len(fuzz.operations) == 11
    assert {200, 201, 202, 401, 404, 409, 422, 429} <= set(fuzz.statuses), fuzz.statuses


def test_other_routes_never_answer_5xx(api_under_fuzz, capsys):
    """The public feeds, pages and ops routes (other issues) are fuzzed for server errors only."""
    fuzz = Fuzzer(api_under_fuzz.app)
    fuzz.operations = [op for op in fuzz.operations if not op.path.startswith("/api/v1/")]
    for operation in fuzz.operations:
        fuzz.run(operation, api_under_fuzz.auth("operator"), [not_a_server_error])
    fuzz.report(capsys, "other routes")
