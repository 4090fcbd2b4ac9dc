"""The public names of `bathos`, in one place: `bathos/__init__.py` loads this module on first use
of any of them, so a process that imports only parts of bathos (`bth run`, `bth --help`) does not
pay for the rest (`benchmarks/bench_catalog.py` shows what it saves). `__all__` names what is
imported here; ruff fails on a name in one and not the other.
"""

from bathos.audit import AuditWarning, NeverFired, ProjectAudit, SprintAudit, sprint_audit
from bathos.catalog.catalog import Catalog, VerifyReport
from bathos.catalog.compact import CompactionReport
from bathos.catalog.rows import Rows
from bathos.checker import CheckReport, FileOrigin
from bathos.config import Remote, sidecar_path
from bathos.diff import DiffSection, FileChange, PackageChange, RunDiff, ValueChange
from bathos.errors import (
    AmbiguousRunId,
    AuthenticationFailed,
    BathosError,
    CatalogError,
    CompactionBusy,
    ConfigError,
    ConnectionFailed,
    HostKeyChanged,
    HostKeyUnknown,
    InvalidTimeSpec,
    LogsUnavailable,
    ProvenanceError,
    QueryRefused,
    QueryTimeout,
    RemoteDirMissing,
    RemoteDiskFull,
    RemoteUnreachable,
    RemoteUnwritable,
    RunNotFound,
    SidecarInvalid,
    SidecarRefused,
    SyncError,
    UnreadableFile,
)
from bathos.freshness import OutputCheck, Reason, Verdict
from bathos.lineage import Lineage, LineageEdge, LineageNode
from bathos.lint import Finding, LintReport, lint_project
from bathos.models import (
    Capture,
    Dependency,
    Environment,
    Git,
    Host,
    Logs,
    Output,
    Run,
    RunOutcome,
    Sidecar,
    Slurm,
)
from bathos.query import RunQuery
from bathos.remotes.registry import add_remote, list_remotes, remove_remote
from bathos.remotes.sync import RemoteCheck, SyncReport, check_remote, sync
from bathos.rerun import Rerun
from bathos.scaffold import NewExperiment, new_experiment
from bathos.scripting import current_run_id, experiment, log, output_dir
from bathos.sidecar import (
    OutcomeSpec,
    SidecarSpec,
    evaluate_outcome,
    load_sidecar,
    parse_sidecar,
)

__all__ = [
    "AmbiguousRunId",
    "AuditWarning",
    "AuthenticationFailed",
    "BathosError",
    "Capture",
    "Catalog",
    "CatalogError",
    "CheckReport",
    "CompactionBusy",
    "CompactionReport",
    "ConfigError",
    "ConnectionFailed",
    "Dependency",
    "DiffSection",
    "Environment",
    "FileChange",
    "FileOrigin",
    "Finding",
    "Git",
    "Host",
    "HostKeyChanged",
    "HostKeyUnknown",
    "InvalidTimeSpec",
    "Lineage",
    "LineageEdge",
    "LineageNode",
    "LintReport",
    "Logs",
    "LogsUnavailable",
    "NeverFired",
    "NewExperiment",
    "OutcomeSpec",
    "Output",
    "OutputCheck",
    "PackageChange",
    "ProjectAudit",
    "ProvenanceError",
    "QueryRefused",
    "QueryTimeout",
    "Reason",
    "Remote",
    "RemoteCheck",
    "RemoteDirMissing",
    "RemoteDiskFull",
    "RemoteUnreachable",
    "RemoteUnwritable",
    "Rerun",
    "Rows",
    "Run",
    "RunDiff",
    "RunNotFound",
    "RunOutcome",
    "RunQuery",
    "Sidecar",
    "SidecarInvalid",
    "SidecarRefused",
    "SidecarSpec",
    "Slurm",
    "SprintAudit",
    "SyncError",
    "SyncReport",
    "UnreadableFile",
    "ValueChange",
    "Verdict",
    "VerifyReport",
    "add_remote",
    "check_remote",
    "current_run_id",
    "evaluate_outcome",
    "experiment",
    "lint_project",
    "list_remotes",
    "load_sidecar",
    "log",
    "new_experiment",
    "output_dir",
    "parse_sidecar",
    "remove_remote",
    "sidecar_path",
    "sprint_audit",
    "sync",
]
