"""`bth run --campaign`: refused before it starts unless the campaign is open; a member from its
start, however many run at once."""

from __future__ import annotations

from project import Project

import bathos
from bathos.campaigns import read_event


def test_a_run_joins_its_campaign_with_an_add_event(project: Project) -> None:
    catalog = bathos.Catalog()
    catalog.create_campaign("lr-sweep", project="proj", hypothesis="h")

    run = project.bth_run("--campaign", "lr-sweep", "scripts/experiments/hello.py")

    assert run.campaign_id == "lr-sweep"
    assert catalog.campaign("lr-sweep").info.run_ids == (run.id,)
    kinds = [read_event(p).kind for p in sorted(
        (catalog.path / "campaigns" / "proj" / "lr-sweep").iterdir())]
    assert kinds == ["create", "add"]


def test_an_unknown_or_concluded_campaign_is_refused_before_the_script_starts(
        project: Project) -> None:
    catalog = bathos.Catalog()
    project.write("scripts/experiments/touch.py",
                  "import pathlib; pathlib.Path('ran').write_text('yes')\n")

    unknown = project.bth("run", "--campaign", "nope", "scripts/experiments/touch.py")
    catalog.create_campaign("done", project="proj", hypothesis="h")
    catalog.campaign("done").conclude("supported")
    closed = project.bth("run", "--campaign", "done", "scripts/experiments/touch.py")

    assert (unknown.returncode, closed.returncode) == (2, 2)
    assert unknown.stderr.strip().splitlines() == [
        f"Error: campaign nope not found in catalog {catalog.path} (bth campaign ls lists "
        "the campaigns)"]
    assert closed.stderr.strip().splitlines() == [
        "Error: campaign done is concluded: it takes no new runs until it is reopened "
        "(bth campaign reopen done)"]
    assert not (project.root / "ran").exists()
    assert len(catalog.runs(all_projects=True)) == 0

    catalog.campaign("done").reopen()
    run = project.bth_run("--campaign", "done", "scripts/experiments/touch.py")
    assert catalog.campaign("done").info.run_ids == (run.id,)


def test_fifty_concurrent_runs_all_end_up_members(project: Project) -> None:
    catalog = bathos.Catalog()
    catalog.create_campaign("seeds", project="proj", hypothesis="every seed runs")

    procs = [project.popen("run", "--campaign", "seeds", "--", "true") for _ in range(50)]
    done = [project.wait(proc) for proc in procs]

    assert [d.returncode for d in done] == [0] * 50, [d.stderr for d in done if d.returncode]
    started = {d.run_id for d in done}
    members = catalog.campaign("seeds").info.run_ids
    assert len(members) == 50
    assert {m[:len(next(iter(started)))] for m in members} == started
    added = catalog.sql("SELECT count(*) FROM campaign_runs WHERE campaign_id = 'seeds'")
    assert added.tuples() == [(50,)]
    events = list((catalog.path / "campaigns" / "proj" / "seeds").iterdir())
    assert len(events) == 51  # a create and one add per run, each a file of its own
