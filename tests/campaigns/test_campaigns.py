"""Campaigns through the library: event files, the fold, membership, bad files, the SQL views."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path

import pytest
from records import make_run

import bathos
from bathos import campaigns
from bathos.campaigns import append_event


def _create(catalog: bathos.Catalog, campaign_id: str = "lr-sweep") -> bathos.CampaignHandle:
    catalog.create_campaign(campaign_id, project="demo", hypothesis="lr=0.1 lowers the loss",
                            question="which lr?", mode="confirmation")
    return catalog.campaign(campaign_id)


def _event_files(catalog: bathos.Catalog, campaign_id: str = "lr-sweep") -> list[Path]:
    return sorted((catalog.path / "campaigns" / "demo" / campaign_id).iterdir())


def test_a_campaign_is_created_with_its_fields_and_one_event_file(catalog) -> None:
    made = catalog.create_campaign("lr-sweep", project="demo", hypothesis="lr=0.1 wins",
                                   question="which lr?", mode="confirmation")

    assert (made.id, made.project, made.hypothesis, made.question, made.mode, made.status,
            made.run_ids) == ("lr-sweep", "demo", "lr=0.1 wins", "which lr?", "confirmation",
                              "open", ())
    (event,) = _event_files(catalog)
    data = json.loads(event.read_text())
    assert event.name.split("-")[0].isdigit() and len(event.name.split("-")[0]) == 19
    assert {k: data[k] for k in ("schema", "kind", "campaign", "project", "hypothesis")} == {
        "schema": 1, "kind": "create", "campaign": "lr-sweep", "project": "demo",
        "hypothesis": "lr=0.1 wins"}
    assert catalog.campaign("lr-sweep").info == made


@pytest.mark.parametrize("bad", ["Lr-Sweep", "-x", "a b", "x" * 65, "../up", ""])
def test_an_invalid_campaign_id_is_refused_in_one_line(catalog, bad: str) -> None:
    with pytest.raises(bathos.ConfigError, match="invalid campaign id"):
        catalog.create_campaign(bad, project="demo", hypothesis="h")
    assert not (catalog.path / "campaigns").exists()


def test_an_id_is_unique_across_the_catalogs_projects(catalog) -> None:
    _create(catalog)
    with pytest.raises(bathos.ConfigError, match=r"exists already .project demo"):
        catalog.create_campaign("lr-sweep", project="other", hypothesis="h")


def test_an_unknown_campaign_is_campaign_not_found(catalog) -> None:
    with pytest.raises(bathos.CampaignNotFound, match="campaign nope not found"):
        catalog.campaign("nope")


def test_membership_the_latest_add_or_remove_of_each_run_wins(catalog) -> None:
    runs = [make_run() for _ in range(3)]
    for run in runs:
        catalog.write(run)
    handle = _create(catalog)

    handle.add([r.id for r in runs])
    handle.remove([runs[1].id])
    handle.add([runs[1].id, runs[0].id])  # back in; runs[0] keeps its first time

    assert handle.info.run_ids == (runs[0].id, runs[2].id, runs[1].id)
    assert {r["id"] for r in handle.runs()} == {r.id for r in runs}
    with pytest.raises(bathos.ConfigError, match=r"not the id .* of a run of campaign"):
        handle.remove([make_run().id])


def test_a_run_whose_record_names_the_campaign_is_a_member_until_removed(catalog) -> None:
    handle = _create(catalog)
    named = make_run(campaign_id="lr-sweep")
    catalog.write(named)

    assert handle.info.run_ids == (named.id,)
    handle.remove([named.id])
    assert handle.info.run_ids == ()
    assert len(handle.runs()) == 0
    assert len(catalog.runs(campaign="lr-sweep")) == 0


def test_runs_by_campaign_are_its_members(catalog) -> None:
    added, named, other = make_run(), make_run(campaign_id="lr-sweep"), make_run()
    orphan = make_run(campaign_id="never-created")  # a campaign this catalog does not hold
    for run in (added, named, other, orphan):
        catalog.write(run)
    _create(catalog).add([added.id])

    assert {r["id"] for r in catalog.runs(campaign="lr-sweep")} == {added.id, named.id}
    assert [r["id"] for r in catalog.runs(campaign="never-created")] == [orphan.id]
    checked = catalog.check(campaign="lr-sweep").to_polars()
    assert set(checked["run_id"]) == {added.id, named.id}


def test_conclude_and_reopen(catalog) -> None:
    run = make_run()
    catalog.write(run)
    handle = _create(catalog)

    done = handle.conclude("supported", note="on every seed")
    assert (done.status, done.outcome, done.note) == ("concluded", "supported", "on every seed")
    assert done.concluded_at is not None
    for change in (lambda: handle.add([run.id]), lambda: handle.conclude("again")):
        with pytest.raises(bathos.CampaignClosed, match=r"concluded: .* until it is reopened"):
            change()

    again = handle.reopen()
    assert (again.status, again.outcome, again.concluded_at) == ("open", None, None)
    with pytest.raises(bathos.ConfigError, match="open already"):
        handle.reopen()
    assert handle.add([run.id]) == (run.id,)
    kinds = [campaigns.read_event(path).kind for path in _event_files(catalog)]
    assert kinds == ["create", "conclude", "reopen", "add"]


def test_add_where_picks_runs_of_the_campaigns_project_by_sql(catalog) -> None:
    fast = make_run(params={"lr": "0.1"})
    slow = make_run(params={"lr": "0.01"})
    elsewhere = make_run(project="other", params={"lr": "0.1"})
    for run in (fast, slow, elsewhere):
        catalog.write(run)
    handle = _create(catalog)

    assert handle.add(where="params->>'lr' = '0.1'") == (fast.id,)
    with pytest.raises(bathos.ConfigError, match="no run of project demo matches"):
        handle.add(where="params->>'lr' = '7'")


def test_append_event_with_an_explicit_id_writes_once(catalog) -> None:
    _create(catalog)
    when = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
    run = make_run()
    first = append_event(catalog.path, "demo", "lr-sweep", "add", time=when,
                         event_id="legacy-7", runs=[run.id])
    again = append_event(catalog.path, "demo", "lr-sweep", "add", time=when,
                         event_id="legacy-7", runs=[run.id])

    assert first == again and first.name == "1740830400000000000-add-legacy-7.json"
    assert len(_event_files(catalog)) == 2
    with pytest.raises(bathos.ConfigError, match=r"not a valid add event: .* not a run id"):
        append_event(catalog.path, "demo", "lr-sweep", "add", runs=["nope"])


def test_a_poisoned_event_file_is_skipped_with_a_warning_and_named_by_verify(
        catalog, caplog: pytest.LogCaptureFixture) -> None:
    run = make_run()
    catalog.write(run)
    handle = _create(catalog)
    handle.add([run.id])
    directory = catalog.path / "campaigns" / "demo" / "lr-sweep"
    conclude = {"schema": 1, "kind": "conclude", "campaign": "lr-sweep", "project": "demo",
                "time": "2030-01-01T00:00:00Z", "by": "x", "outcome": "pwned"}
    poisoned = [
        directory / "1999999999999999999-conclude-garbage.json",
        directory / "1999999999999999998-conclude-wrong.json",
        directory / "1999999999999999997-add-huge.json",
        directory / "1999999999999999996-add-liar.json",
        directory / "not-an-event.json",
        directory / "1999999999999999995-conclude-fifo.json",
        directory / "1999999999999999994-conclude-link.json",
    ]
    poisoned[0].write_bytes(b"\xff\x00{")
    poisoned[1].write_text(json.dumps({**conclude, "campaign": "other"}))
    poisoned[2].write_bytes(b" " * (campaigns.MAX_EVENT_BYTES + 1))
    poisoned[3].write_text(json.dumps(conclude))  # its name says add: no reader takes it
    poisoned[4].write_text("{}")
    os.mkfifo(poisoned[5])  # a reader must not wait on it
    outside = catalog.path.parent / "conclude.json"
    outside.write_text(json.dumps(conclude))
    poisoned[6].symlink_to(outside)

    with caplog.at_level(logging.WARNING, logger="bathos"):
        info = handle.info
        listed = catalog.campaigns().to_dicts()

    assert (info.status, info.run_ids) == ("open", (run.id,))
    assert [(c["id"], c["n_runs"]) for c in listed] == [("lr-sweep", 1)]
    warned = caplog.text
    assert all(str(p) in warned for p in poisoned)
    report = catalog.verify()
    assert sorted(p.path for p in report.problems) == sorted(poisoned)
    catalog.verify(quarantine=True)
    assert not catalog.verify().problems
    assert (catalog.path / "quarantine" / "campaigns" / "demo" / "lr-sweep"
            / poisoned[0].name).read_bytes() == b"\xff\x00{"


def test_a_campaign_spans_the_catalog_after_compaction(catalog) -> None:
    handle = _create(catalog)
    old = [make_run(campaign_id="lr-sweep"), make_run()]
    other = make_run(project="other")
    for run in (*old, other):
        catalog.write(run)
    handle.add([old[1].id, other.id])
    catalog.compact()
    assert not list((catalog.path / "runs" / "demo").glob("*.json"))
    hot = make_run()
    catalog.write(hot)
    handle.add([hot.id])

    assert {r["id"] for r in handle.runs()} == {old[0].id, old[1].id, other.id, hot.id}
    assert catalog.campaigns().to_dicts()[0]["n_runs"] == 4


def test_the_sql_views_campaigns_and_campaign_runs(catalog) -> None:
    ancient = dt.datetime(1990, 1, 1, tzinfo=dt.UTC)  # before any event time: still a member
    runs = [make_run(), make_run(campaign_id="lr-sweep", started_at=ancient)]
    for run in runs:
        catalog.write(run)
    _create(catalog).add([runs[0].id])
    _create(catalog, "baseline").conclude("refuted")

    summary = catalog.sql("SELECT id, status, mode, outcome, n_runs FROM campaigns ORDER BY id")
    assert summary.tuples() == [("baseline", "concluded", "confirmation", "refuted", 0),
                                ("lr-sweep", "open", "confirmation", None, 2)]
    joined = catalog.sql(
        "SELECT r.id, c.campaign_id, c.added_at FROM campaign_runs c JOIN runs r "
        "ON r.id = c.run_id ORDER BY r.id").to_dicts()
    assert {(j["id"], j["campaign_id"]) for j in joined} == {(r.id, "lr-sweep") for r in runs}
    assert all(j["added_at"].endswith("Z") for j in joined)
    assert [c["id"] for c in catalog.campaigns(project="demo")] == ["baseline", "lr-sweep"]
    assert "campaign_runs" in catalog.schema()
