"""Pairwise precision and recall of "same story" on the labelled set, stored through the real store path.

The set (tests/fixtures/dedupe/labelled.json) is made by bench/dedupe_labelled.py from
hand-written German municipal texts: originals, cross-city republications with edited intros
and titles, edits of one item, GUID/URL changes, and distinct stories that share boilerplate
(Rathaus Umschau issues, council agendas, event calendars, roadworks lists, building-plan
notices, closure notices). The thresholds in ``dedupe.POLICY`` were chosen on other seeds
(bench/dedupe_thresholds.py); this test scores the committed set with them.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import asdict
from datetime import timedelta

import pytest

from syndicate.dedupe import rules as dedupe
from tests.conftest import ROOT
from tests.support import labelled


@pytest.fixture(scope="module")
def data() -> dict:
    return labelled.load()


def test_fixture_is_the_generators_output(data):
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import dedupe_labelled
    finally:
        sys.path.remove(str(ROOT / "bench"))
    assert dedupe_labelled.build(data["seed"]) == data


def test_labelled_set_is_large_and_mixed(data):
    kinds = Counter(r["kind"] for r in data["records"])
    assert len(data["records"]) >= 200
    assert set(kinds) == {"original", "republication", "edit", "guid_change", "recurring"}
    assert min(kinds.values()) >= 15
    stories = Counter(r["story"] for r in data["records"])
    assert sum(1 for n in stories.values() if n > 1) >= 30  # stories with more than one record


@pytest.mark.slow  # the whole labelled set through the store
def test_same_story_precision_and_recall(session, data, capsys):
    outcomes = labelled.run(session, data)
    overall = labelled.score(data, outcomes)
    cross = labelled.score(data, outcomes, cross_source_only=True)
    recognised, guid_changes = labelled.same_row_rate(data, outcomes, "guid_change")
    edited, edits = labelled.same_row_rate(data, outcomes, "edit")
    by_id = {r["id"]: r for r in data["records"]}
    with capsys.disabled():
        thresholds = ", ".join(f"{k}={v.days}d" if isinstance(v, timedelta) else f"{k}={v}" for k, v in asdict(dedupe.POLICY).items())
        print(f"\nlabelled set: {len(data['records'])} records, {overall.pairs} pairs; thresholds: {thresholds}")
        print(
            f"  all pairs:          precision {overall.precision:.4f} recall {overall.recall:.4f} "
            f"(tp {overall.tp}, fp {overall.fp}, fn {overall.fn})"
        )
        print(
            f"  cross-source pairs: precision {cross.precision:.4f} recall {cross.recall:.4f} (tp {cross.tp}, fp {cross.fp}, fn {cross.fn})"
        )
        print(f"  GUID/URL changes stored as updates of the same row: {recognised}/{guid_changes}; edits in place: {edited}/{edits}")
        for a, b in overall.merged:
            print(f"  wrongly merged: {by_id[a]['story']} ({by_id[a]['source']}) ~ {by_id[b]['story']} ({by_id[b]['source']})")
        if overall.missed:
            print(f"  missed same-story pairs by kinds: {dict(overall.missed)}")
    assert overall.precision >= 0.98 and overall.recall >= 0.95
    assert cross.precision >= 0.98 and cross.recall >= 0.95
    assert edited == edits  # an edit (same GUID) always changes its row in place
    assert recognised >= 0.9 * guid_changes
