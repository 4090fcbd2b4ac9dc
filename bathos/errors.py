"""The errors bathos raises: one base class, families below it, specific classes below those.

    BathosError
    ├── ConfigError            bad .bth.toml, bad paths, bad input given to the library
    │   ├── InvalidTimeSpec    a time that is neither a duration nor a date
    │   ├── SidecarInvalid     a `<stem>.bth.toml` that is not a valid sidecar (file:line: key)
    │   ├── SidecarRefused     a run its sidecar does not let start (`code` says why)
    │   └── CampaignClosed     a concluded campaign asked to take runs or change
    ├── CatalogError           the catalog cannot be read or written
    │   ├── RunNotFound
    │   ├── AmbiguousRunId
    │   ├── CampaignNotFound
    │   ├── CompactionBusy
    │   ├── QueryRefused       a `sql` statement that would write, attach or copy files
    │   ├── QueryTimeout       a query that ran past its time limit
    │   ├── LogsUnavailable    a run whose logs were not kept, or cannot be read from here
    │   └── UnreadableFile     a catalog file readers skip (what `Catalog.verify` lists)
    ├── ProvenanceError        git, host or environment capture failed
    └── SyncError              a sync with another catalog failed (nothing half-written is left)
        ├── ConnectionFailed   the remote could not be reached or logged into
        │   ├── RemoteUnreachable
        │   ├── HostKeyUnknown     its host key is in no known_hosts file (`fingerprint`)
        │   ├── HostKeyChanged     its host key differs from the one known_hosts holds
        │   └── AuthenticationFailed
        ├── RemoteDirMissing   the remote's directory does not exist
        ├── RemoteUnwritable   the remote's catalog cannot be written
        └── RemoteDiskFull     the remote refused a write (its disk full, or over quota)

Each message says what is wrong in the library's terms, and what to do where that needs no command
line. `hint`, when set, says what to do at the command line (`bth` prints it after the message);
it is None for most errors. `bth` turns each family into its documented exit code.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any


class BathosError(Exception):
    """Base of every error bathos raises on purpose; `hint` (or None) is the command-line advice."""

    hint: str | None = None

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint


class ConfigError(BathosError):
    """Configuration or input given to bathos is wrong."""


class InvalidTimeSpec(ConfigError):
    """A `since`/`until` value that is neither a duration (`7d`) nor an ISO date."""


class SidecarInvalid(ConfigError):
    """A sidecar that is not valid: `path`, `line` (1-based) and `key` (dotted, such as
    `outcomes.fast.condition`; None for the file as a whole, e.g. a TOML syntax error) say where.
    The message reads `<path>:<line>: <key>: <what is wrong>`."""

    def __init__(self, path: Path | str, line: int, key: str | None, what: str) -> None:
        self.path = Path(path)
        self.line = line
        self.key = key
        self.what = what
        super().__init__(f"{path}:{line}: {key + ': ' if key else ''}{what}")


class SidecarRefused(ConfigError):
    """A run that may not start because of its sidecar. `code` is stable, for programs to act on:

        sidecar_missing   the script's directory requires a sidecar, and it has none
        sidecar_invalid   the sidecar does not validate (`line` and `key` say where)
        script_stale      the sidecar retires the script (stale, or superseded by another)
        sidecar_changed   in autonomous mode, the sidecar differs from the one its runs were
                          judged by: the goalposts moved

    `path` is the sidecar's path; `line` and `key` are None where they do not apply."""

    def __init__(self, code: str, message: str, *, path: Path, line: int | None = None,
                 key: str | None = None, hint: str | None = None) -> None:
        self.code = code
        self.path = path
        self.line = line
        self.key = key
        super().__init__(message, hint=hint)


class CampaignClosed(ConfigError):
    """A concluded campaign asked to take runs or change (`campaign_id`): reopen it first."""

    def __init__(self, campaign_id: str, what: str) -> None:
        self.campaign_id = campaign_id
        super().__init__(f"campaign {campaign_id} is concluded: {what} until it is reopened",
                         hint=f"bth campaign reopen {campaign_id}")


class CatalogError(BathosError):
    """The catalog cannot be read or written."""


class RunNotFound(CatalogError):
    """No run has this id or id prefix."""

    hint = "bth ls --all-projects lists the runs of every project"

    def __init__(self, run_id: str, catalog: str) -> None:
        self.run_id = run_id
        self.catalog = catalog
        super().__init__(f"run {run_id} not found in catalog {catalog}")


class CampaignNotFound(CatalogError):
    """No campaign has this id."""

    hint = "bth campaign ls lists the campaigns"

    def __init__(self, campaign_id: str, catalog: str) -> None:
        self.campaign_id = campaign_id
        self.catalog = catalog
        super().__init__(f"campaign {campaign_id} not found in catalog {catalog}")


class AmbiguousRunId(CatalogError):
    """An id prefix that matches more than one run."""

    def __init__(self, prefix: str, candidates: list[str]) -> None:
        self.prefix = prefix
        self.candidates = candidates
        shown = ", ".join(candidates[:10]) + (" …" if len(candidates) > 10 else "")
        super().__init__(
            f"run id prefix {prefix!r} matches {len(candidates)} runs: {shown} "
            "(give more characters of the id)"
        )


class CompactionBusy(CatalogError):
    """Another process is compacting this catalog right now."""


class QueryRefused(CatalogError):
    """A query that would change files; the catalog's SQL lens is read-only."""


class QueryTimeout(CatalogError):
    """A query that ran longer than its time limit and was stopped."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"query stopped after {seconds:g} s, its time limit (narrow the query, "
                         "or allow it more time)")


class LogsUnavailable(CatalogError):
    """A run whose output cannot be shown: it kept none, or it is running where its live log is
    not (another host, or a script that records itself), and keeps its logs only when it ends."""

    def __init__(self, run_id: str, why: str) -> None:
        self.run_id = run_id
        super().__init__(f"run {run_id} {why}")


class UnreadableFile(CatalogError):
    """A catalog file readers skip, and why (`path`, `reason`); `Catalog.verify` lists them and
    its quarantine sets them aside. Subclasses name files that are handled otherwise."""

    hint = "bth verify --quarantine sets it aside"

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class ProvenanceError(BathosError):
    """Capturing provenance (git, host, environment) failed."""


def error_object(exc: Exception) -> dict[str, Any]:
    """A library error as one JSON object for programs (`bth run --json-errors`): a stable
    `code` (a SidecarRefused's own, else the error's class in snake case: `config_error`), the
    message and hint, and the `path`, `line` and `key` it names (null where none applies)."""
    code = getattr(exc, "code", None) or re.sub(r"(?<!^)(?=[A-Z])", "_",
                                                type(exc).__name__).lower()
    path = getattr(exc, "path", None)
    return {"code": code, "message": str(exc), "path": None if path is None else str(path),
            "line": getattr(exc, "line", None), "key": getattr(exc, "key", None),
            "hint": getattr(exc, "hint", None)}


class SyncError(BathosError):
    """A sync with another catalog failed; what it had sent so far is complete or invisible, and
    running it again finishes the job. `remote` names the remote."""

    def __init__(self, remote: str, message: str, *, hint: str | None = None) -> None:
        self.remote = remote
        super().__init__(message, hint=hint)


class ConnectionFailed(SyncError):
    """The remote could not be reached, its host key not verified, or the login refused."""


class RemoteUnreachable(ConnectionFailed):
    """No SSH connection to the remote's host (unknown name, refused, timed out)."""


class HostKeyUnknown(ConnectionFailed):
    """The host's key is in no known_hosts file; `fingerprint` is its SHA256 fingerprint."""

    hint = "bth sync --accept-new-host-key records it, once you have checked the fingerprint"

    def __init__(self, remote: str, host: str, fingerprint: str) -> None:
        self.host = host
        self.fingerprint = fingerprint
        super().__init__(remote, f"host {host} is not known: its key has fingerprint "
                                 f"{fingerprint}, which no known_hosts file holds (check it with "
                                 "the host's administrator, then accept it)")


class HostKeyChanged(ConnectionFailed):
    """The host's key differs from the one known_hosts holds: refused, never replaced."""


class AuthenticationFailed(ConnectionFailed):
    """The host refused every key (ssh-agent and key files; passwords are never tried)."""


class RemoteDirMissing(SyncError):
    """The remote's directory does not exist on its host."""


class RemoteUnwritable(SyncError):
    """The remote's catalog cannot be written by the user logged in."""


class RemoteDiskFull(SyncError):
    """The remote refused to store a file (its disk is full, or the user over quota)."""
