"""A run record survives every conversion: attrs <-> cattrs, and write -> compact -> get."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bathos
from bathos.catalog.store import write_record
from bathos.ids import new_run_id
from bathos.models import (
    FINISHED_STATUSES,
    STATUSES,
    Capture,
    Dependency,
    Environment,
    Git,
    Host,
    Logs,
    Output,
    Run,
    Sidecar,
    Slurm,
    structure_run,
    unstructure,
)

ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"

text = st.text(max_size=12)
maybe_text = st.none() | text
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(
    lambda minutes: dt.timezone(dt.timedelta(minutes=minutes))
)
moments = st.datetimes(
    min_value=dt.datetime(1971, 1, 1), max_value=dt.datetime(2200, 1, 1), timezones=offsets
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=10,
)
run_ids = st.builds(
    lambda ms, tail: new_run_id(now_ms=ms)[:9] + tail,
    st.integers(0, 32**9 - 1),
    st.text(ID_ALPHABET, min_size=7, max_size=7),
)
slugs = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True)
sizes = st.none() | st.integers(0, 2**53)
string_tuples = st.lists(text, max_size=3).map(tuple)

hosts = st.builds(Host, hostname=text, user=text, pid=st.integers(0, 2**22),
                  cpu_count=st.none() | st.integers(1, 1024))
slurms = st.builds(Slurm, job_id=text, array_job_id=maybe_text, array_task_id=maybe_text,
                   partition=maybe_text, node_list=maybe_text, cpus=maybe_text, mem=maybe_text,
                   job_name=maybe_text, cluster=maybe_text)
gits = st.builds(Git, repo_root=text,
                 commit=st.none() | st.text("0123456789abcdef", min_size=40, max_size=40),
                 branch=maybe_text, detached=st.booleans(), dirty=st.booleans(),
                 snapshot=maybe_text, untracked=string_tuples, pinned_ref=maybe_text)
dependencies = st.builds(Dependency, path=text,
                         role=st.sampled_from(["script", "module", "sidecar", "input"]),
                         sha256=maybe_text, size=sizes, git_blob=maybe_text)
outputs = st.builds(Output, path=text, size=sizes, sha256=maybe_text,
                    mtime=st.none() | st.floats(0, 4e9))
environments = st.builds(Environment, python_executable=maybe_text, python_version=maybe_text,
                         implementation=maybe_text, platform=maybe_text,
                         packages_fingerprint=maybe_text, packages_source=maybe_text,
                         variables=st.dictionaries(text, text, max_size=3),
                         packages_list=maybe_text, packages_count=sizes)
sidecars = st.builds(Sidecar, path=maybe_text, sha256=maybe_text,
                     mode=st.sampled_from(["recorded", "bypassed"]))
logs = st.builds(Logs, stdout=maybe_text, stderr=maybe_text, stdout_bytes=st.integers(0, 2**40),
                 stderr_bytes=st.integers(0, 2**40), truncated=st.booleans())

captures = st.builds(Capture, scanned=st.integers(0, 2**31), scan_s=st.floats(0, 1e4),
                     scan_capped=st.booleans(), not_written=string_tuples,
                     modified_tracked=string_tuples)


def runs(statuses: tuple[str, ...] = STATUSES) -> st.SearchStrategy[Run]:
    """Runs with every field group filled or left empty."""
    return st.builds(
        Run,
        id=run_ids, project=slugs, started_at=moments, updated_at=moments,
        status=st.sampled_from(statuses), name=maybe_text, script=maybe_text,
        argv=string_tuples, params=st.dictionaries(text, text | st.lists(text, max_size=3),
                                                   max_size=3), cwd=maybe_text,
        ended_at=st.none() | moments, duration_s=st.none() | st.floats(0, 1e7),
        heartbeat_at=st.none() | moments, exit_code=st.none() | st.integers(-64, 255),
        signal=maybe_text, error=maybe_text, host=st.none() | hosts, slurm=st.none() | slurms,
        git=st.none() | gits, dependencies=st.lists(dependencies, max_size=3).map(tuple),
        environment=st.none() | environments, outputs=st.lists(outputs, max_size=3).map(tuple),
        results=st.dictionaries(text, json_values, max_size=4), logs=st.none() | logs,
        tags=string_tuples, parent_run_id=st.none() | run_ids, campaign_id=maybe_text,
        agent_mode=st.none() | st.sampled_from(["collaborative", "autonomous"]),
        sidecar=st.none() | sidecars, capture=st.none() | captures,
    )


@settings(max_examples=30, deadline=None, database=None)
@given(runs())
def test_converter_round_trip(run: Run) -> None:
    assert structure_run(unstructure(run)) == run
    assert structure_run(json.loads(json.dumps(unstructure(run)))) == run


# Each example costs a compaction and a query per run (~0.1 s), hence fewer examples.
@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.lists(runs(FINISHED_STATUSES), min_size=1, max_size=2, unique_by=lambda r: r.id))
def test_write_compact_get_round_trip(tmp_path: Path, batch: list[Run]) -> None:
    """Through a Parquet segment (the hot path is checked in test_store)."""
    cat = bathos.Catalog(tmp_path / secrets.token_hex(4))
    for run in batch:  # what Catalog.write does, without the fsyncs this test does not need
        write_record(cat.path, unstructure(run), durable=False)

    assert cat.compact().folded == len(batch)
    assert [cat.get(run.id) for run in batch] == batch


def test_times_come_back_aware_in_utc_with_microseconds(make_run, catalog) -> None:
    tz = dt.timezone(dt.timedelta(hours=-5, minutes=-30))
    started = dt.datetime(2025, 6, 1, 8, 15, 30, 123456, tzinfo=tz)
    run = make_run(started_at=started, ended_at=started + dt.timedelta(seconds=1.5))
    catalog.write(run)
    catalog.compact()

    back = catalog.get(run.id)
    assert back.started_at == started
    assert back.started_at.utcoffset() == dt.timedelta(0)
    assert back.started_at.microsecond == 123456
    assert back.ended_at == started + dt.timedelta(seconds=1.5)
