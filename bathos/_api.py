"""The public names of `bathos`, in one place: `bathos/__init__.py` loads this module on first use
of any of them, so a process that imports only parts of bathos (`bth run`, `bth --help`) does not
pay for the rest (`benchmarks/bench_catalog.py` shows what it saves). `__all__` names what is
imported here; ruff fails on a name in one and not the other.
"""

from bathos.audit import AuditWarning, NeverFired, ProjectAudit, SprintAudit, sprint_audit
from bathos.campaigns import Campaign, CampaignHandle
from bathos.catalog.catalog import Catalog, VerifyReport
from bathos.catalog.compact import CompactionReport
from bathos.catalog.legacy import ImportReport
from bathos.catalog.migrate import MigrationReport, MoveReport, Outdated
from bathos.catalog.rows import Rows
from bathos.checker import CheckReport, FileOrigin
from bathos.config import Remote, sidecar_path
from bathos.diff import DiffSection, FileChange, PackageChange, RunDiff, ValueChange
from bathos.errors import (
    AmbiguousRunId,
    AuthenticationFailed,
    BathosError,
    CampaignClosed,
    CampaignNotFound,
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
    Imported,
    Logs,
    Output,
    Run,
    RunOutcome,
    Sidecar,
    Slurm,
    TagEdit,
)
from bathos.pages.pages import write_report
from bathos.pages.server import page_server
from bathos.provenance.slurm import JobInfo
from bathos.query import RunQuery
from bathos.reaper import Reaped
from bathos.remotes.registry import add_remote, list_remotes, remove_remote
from bathos.remotes.sync import RemoteCheck, SyncReport, check_remote, sync
from bathos.rerun import Rerun
from bathos.review import CampaignReview
from bathos.scaffold import NewExperiment, new_experiment
from bathos.scripting import current_run_id, experiment, log, output_dir
from bathos.sidecar import (
    OutcomeSpec,
    SidecarSpec,
    evaluate_outcome,
    load_sidecar,
    parse_sidecar,
)
from bathos.submission import JobSpec, Submission, submit_job, wait_for_job

__all__ = [
    "AmbiguousRunId",
    "AuditWarning",
    "AuthenticationFailed",
    "BathosError",
    "Campaign",
    "CampaignClosed",
    "CampaignHandle",
    "CampaignNotFound",
    "CampaignReview",
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
    "ImportReport",
    "Imported",
    "InvalidTimeSpec",
    "JobInfo",
    "JobSpec",
    "Lineage",
    "LineageEdge",
    "LineageNode",
    "LintReport",
    "Logs",
    "LogsUnavailable",
    "MigrationReport",
    "MoveReport",
    "NeverFired",
    "NewExperiment",
    "OutcomeSpec",
    "Outdated",
    "Output",
    "OutputCheck",
    "PackageChange",
    "ProjectAudit",
    "ProvenanceError",
    "QueryRefused",
    "QueryTimeout",
    "Reaped",
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
    "Submission",
    "SyncError",
    "SyncReport",
    "TagEdit",
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
    "page_server",
    "parse_sidecar",
    "remove_remote",
    "sidecar_path",
    "sprint_audit",
    "submit_job",
    "sync",
    "wait_for_job",
    "write_report",
]
