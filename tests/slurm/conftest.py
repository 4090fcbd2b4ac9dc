"""The session's real SLURM cluster (`slurm_cluster`), started once and stopped at the end; the
tests skip, with the reason, where it cannot run."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from slurm_cluster import Cluster, start, stop, why_not


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A single-node cluster, stopped cleanly at the end: every job cancelled, the daemons
    shut down."""
    why = why_not()
    if why:
        pytest.skip(why)
    running = Cluster(Path(tempfile.mkdtemp(prefix="bth-slurm-")))
    try:
        start(running)
        yield running
    finally:
        stop(running)
