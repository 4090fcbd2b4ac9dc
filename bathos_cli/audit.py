"""`bth sprint-audit`: how the last week's runs went in every registered project."""

from __future__ import annotations

import sys
from typing import Any

import click

from bathos_cli import render

EXIT_WARNINGS = 1  # with --strict
_HEADERS = ("project", "runs", "failed", "lost", "bypassed", "dirty", "agent", "stale",
            "entropy", "outcomes")


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _row(audit: Any) -> list[str]:
    if audit.problem:
        return [audit.project, "-", "-", "-", "-", "-", "-", "-", "-", "(not read)"]
    outcomes = ", ".join(f"{label} {n}" for label, n in audit.outcomes.items())
    return [audit.project, str(audit.runs), _percent(audit.failure_rate),
            _percent(audit.lost_rate), _percent(audit.bypass_rate), _percent(audit.dirty_share),
            _percent(audit.agent_share), f"{audit.stale}/{audit.checked}",
            "-" if audit.entropy is None else f"{audit.entropy:.2f}", outcomes or "-"]


@click.command("sprint-audit")
@click.option("--hours", type=click.FloatRange(min=0, min_open=True), default=168,
              show_default=True, help="Audit the runs started in the last N hours.")
@click.option("--strict", is_flag=True, help="Exit 1 when there is any warning.")
@click.option("--json", "json_", is_flag=True, help="Print the whole report as JSON.")
def sprint_audit(hours: float, strict: bool, json_: bool) -> None:
    """Audit recent runs across all registered projects.

    One row per project and a total: runs, the share that failed, were lost, bypassed their
    sidecar, ran on a dirty tree or were driven by an agent; stale results among the completed
    runs; the outcomes and their entropy (0: every run lands in one outcome). Then the
    warnings, each at a threshold docs/sidecars.md gives. Exit codes: 0 (also with warnings,
    unless --strict: then 1); 2 bad usage or input.
    """
    from bathos.audit import sprint_audit as audit

    report = audit(hours)
    if json_:
        render.echo_json(report.to_dict(), indent=2)
    else:
        render.echo_table(_HEADERS, [*map(_row, report.projects), _row(report.total)])
        click.echo(f"\nRuns started since {report.since:%Y-%m-%d %H:%M} UTC "
                   f"({report.hours:g} h).")
        if report.warnings:
            click.echo("Warnings:")
        for warning in report.warnings:
            click.echo(f"  {warning.project}: {warning.message}")
    sys.exit(EXIT_WARNINGS if strict and report.warnings else 0)
