"""Flags shared by several commands, each defined once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def output_format(*, csv: bool = True) -> Callable[[F], F]:
    """`--json` (and `--csv`) for commands that print a listing."""

    def decorate(fn: F) -> F:
        fn = click.option("--json", "json_", is_flag=True, help="Print JSON (one array).")(fn)
        if csv:
            fn = click.option("--csv", "csv_", is_flag=True, help="Print CSV.")(fn)
        return fn

    return decorate


def run_filters(*, find: bool = False) -> Callable[[F], F]:
    """The criteria that pick runs: project, time window, status, tags (and more for find)."""

    def decorate(fn: F) -> F:
        options = [
            click.option("-p", "--project", help="Only this project (default: the current one)."),
            click.option("--all-projects", is_flag=True, help="Every project in the catalog."),
            click.option("--since", help="Started at or after: 30m, 12h, 7d, 2w or a date."),
            click.option("--until", help="Started before: 30m, 12h, 7d, 2w or a date."),
            click.option("--status", multiple=True, help="running, completed, failed, "
                         "interrupted, timeout, cancelled or lost (repeatable)."),
            click.option("--tag", "tags", multiple=True, help="Has this tag (repeatable)."),
            click.option("--slurm-job", help="SLURM job id, array job id (its every task), "
                         "or JOB_TASK."),
            click.option("-n", "--limit", type=click.IntRange(min=1), default=None,
                         help="At most this many runs." + ("" if find else " [default: 20; "
                         "every task with --slurm-job]")),
        ]
        if find:
            options += [
                click.option("--script", help="Script path or file name matches this glob."),
                click.option("--param", "params", multiple=True, metavar="K=V",
                             help="Param K has value V; numbers match by value, "
                             "0.020 = 0.02 (repeatable)."),
                click.option("--host", help="Host name matches this glob."),
                click.option("--commit", help="Git commit (or snapshot) starts with this."),
                click.option("--output", help="Produced a file whose path matches this glob."),
                click.option("--campaign", help="Belongs to this campaign."),
                click.option("--outcome", help="Its sidecar judged it so: an outcome's label, "
                             "error or unknown."),
            ]
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def listing_columns() -> Callable[[F], F]:
    """`-c/--columns`, `--sort` and `--desc`: which run columns a listing shows, in what order."""

    def decorate(fn: F) -> F:
        for option in reversed([
            click.option("-c", "--columns", metavar="LIST", callback=_split,
                         help="Only these columns, comma-separated: any of the --json keys "
                         "(id, name, tags, …) or one param or result (params.lr, "
                         "results.loss)."),
            click.option("--sort", metavar="COLUMN", help="Order by this column (as for "
                         "--columns; numbers as numbers, runs without a value last) instead "
                         "of newest first; -n then keeps the first N."),
            click.option("--desc", is_flag=True, help="With --sort: largest first."),
        ]):
            fn = option(fn)
        return fn

    return decorate


def _split(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str]:
    names = [name.strip() for name in (value or "").split(",") if name.strip()]
    if value is not None and not names:
        raise click.BadParameter("name at least one column (e.g. -c id,params.lr)")
    return names


def parse_params(values: tuple[str, ...]) -> dict[str, str]:
    """`K=V` pairs from `--param`; a missing `=` is a usage error."""
    params = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{value!r} is not K=V (e.g. --param n_steps=1000)",
                                     param_hint="--param")
        params[key.replace("-", "_")] = val
    return params
