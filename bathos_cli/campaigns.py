"""`bth campaign`: group runs under a hypothesis, follow them, conclude."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from bathos_cli import campaign_review, options, render

if TYPE_CHECKING:
    from bathos.campaigns import Campaign, CampaignHandle
    from bathos.catalog.catalog import Catalog

# The results a `show` table has room for, after the params that tell its runs apart.
SHOWN_RESULTS = 6


def _catalog() -> Catalog:
    from bathos.catalog.catalog import Catalog

    return Catalog()


def _handle(campaign_id: str) -> CampaignHandle:
    return _catalog().campaign(campaign_id)


def _campaign_option(fn: Any) -> Any:
    return click.option("--campaign", "campaign_id", required=True, metavar="ID",
                        help="The campaign.")(fn)


@click.group("campaign")
def campaign() -> None:
    """Group runs under a question and a hypothesis; follow them; conclude.

    \b
      bth campaign create lr-sweep --hypothesis "lr=0.1 lowers the loss"
      bth run --campaign lr-sweep scripts/experiments/train.py -- --lr 0.1 --seed 1
      bth campaign show lr-sweep
      bth campaign conclude lr-sweep --outcome supported --note "on 10 seeds of 10"
    """


@campaign.command("create")
@click.argument("campaign_id", metavar="ID")
@click.option("--hypothesis", required=True, help="What the runs are to test.")
@click.option("--question", help="The question the campaign answers.")
@click.option("--mode", type=click.Choice(["exploration", "confirmation"]),
              default="exploration", show_default=True,
              help="Looking around, or testing a hypothesis fixed beforehand.")
@click.option("-p", "--project", help="The campaign's project (default: the current one).")
def create(campaign_id: str, hypothesis: str, question: str | None, mode: str,
           project: str | None) -> None:
    """Create campaign ID (lower-case letters, digits, '_' and '-'; unique in the catalog)."""
    from bathos.config import find_project

    here = find_project()
    slug = project or (here.slug if here else None)
    if slug is None:
        raise click.UsageError("outside a project: name the campaign's project with -p PROJECT")
    made = _catalog().create_campaign(campaign_id, project=slug, hypothesis=hypothesis,
                                      question=question, mode=mode)
    click.echo(f"Campaign {made.id} created ({made.project}, {made.mode}). Next: bth run "
               f"--campaign {made.id} SCRIPT, or bth campaign add RUN... --campaign {made.id}",
               err=True)


@campaign.command("add")
@click.argument("run_ids", nargs=-1, metavar="[RUN...]")
@_campaign_option
@click.option("--where", metavar="SQL",
              help="Also every run of the campaign's project this condition on the runs view "
                   "picks, e.g. \"params->>'lr' = '0.1'\".")
def add(run_ids: tuple[str, ...], campaign_id: str, where: str | None) -> None:
    """Add runs (ids or unique prefixes) to a campaign; an open one only."""
    if not run_ids and where is None:
        raise click.UsageError("name runs to add, or pick them with --where SQL")
    added = _handle(campaign_id).add(run_ids, where=where)
    click.echo(f"Added {render.counted(len(added), 'run')} to campaign {campaign_id}.", err=True)


@campaign.command("remove")
@click.argument("run_ids", nargs=-1, required=True, metavar="RUN...")
@_campaign_option
def remove(run_ids: tuple[str, ...], campaign_id: str) -> None:
    """Take runs out of a campaign (their records are kept); an open one only."""
    removed = _handle(campaign_id).remove(run_ids)
    click.echo(f"Removed {render.counted(len(removed), 'run')} from campaign {campaign_id}.",
               err=True)


@campaign.command("ls")
@click.option("-p", "--project", help="Only this project's campaigns.")
@options.output_format()
def ls(project: str | None, json_: bool, csv_: bool) -> None:
    """List campaigns, newest first."""
    rows = _catalog().campaigns(project)

    def table(data: list[dict[str, Any]]) -> None:
        if not data:
            click.echo("No campaigns yet (bth campaign create ID --hypothesis TEXT).", err=True)
            return
        render.echo_table(["id", "project", "status", "mode", "runs", "outcome", "hypothesis"], [
            [row["id"], row["project"], row["status"], row["mode"], str(row["n_runs"]),
             render.cell(row["outcome"]), row["hypothesis"]] for row in data])

    render.listing(rows.to_dicts(), rows.columns, json_=json_, csv_=csv_, table=table)


@campaign.command("show")
@click.argument("campaign_id", metavar="ID")
@click.option("--json", "json_", is_flag=True,
              help="Print JSON: the campaign, and its runs as bth ls --json shows runs.")
def show(campaign_id: str, json_: bool) -> None:
    """A campaign and its runs: id, script, status, outcome, the params that tell them apart,
    and their results."""
    from bathos.models import unstructure

    handle = _handle(campaign_id)
    info, runs = handle.info, handle.runs()
    if json_:
        render.echo_json({"campaign": unstructure(info), "runs": runs.to_dicts()}, indent=2)
        return
    _echo_info(info)
    data = runs.flattened().to_dicts()
    if not data:
        click.echo(f"\nNo runs yet (bth run --campaign {info.id} SCRIPT).", err=True)
        return
    click.echo()
    render.echo_runs(data, ["id", "script", "status", "outcome", *_arms(data)])


def _echo_info(info: Campaign) -> None:
    concluded = (f"concluded {render.when(info.concluded_at)}: {info.outcome}"
                 if info.concluded_at else None)
    for key, value in [("campaign", f"{info.id} ({info.project})"),
                       ("status", concluded or info.status), ("note", info.note),
                       ("mode", info.mode), ("question", info.question),
                       ("hypothesis", info.hypothesis),
                       ("created", render.when(info.created_at)),
                       ("runs", str(len(info.run_ids)))]:
        if value is not None:
            click.echo(f"{key + ':':<12}{value}")


def _arms(data: list[dict[str, Any]]) -> list[str]:
    """The flattened params whose values differ between runs, then the first results."""
    keys = list(dict.fromkeys(k for row in data for k in row))
    varying = [k for k in keys if k.startswith("params.")
               and len({render.cell(row.get(k)) for row in data}) > 1]
    return varying + [k for k in keys if k.startswith("results.")][:SHOWN_RESULTS]


@campaign.command("conclude")
@click.argument("campaign_id", metavar="ID")
@click.option("--outcome", required=True, metavar="LABEL",
              help="What the campaign found, e.g. supported, refuted, inconclusive.")
@click.option("--note", help="A sentence on why.")
def conclude(campaign_id: str, outcome: str, note: str | None) -> None:
    """Conclude a campaign: it takes no new runs until reopened."""
    done = _handle(campaign_id).conclude(outcome, note=note)
    click.echo(f"Campaign {done.id} concluded: {done.outcome} "
               f"({render.counted(len(done.run_ids), 'run')}).", err=True)


@campaign.command("reopen")
@click.argument("campaign_id", metavar="ID")
def reopen(campaign_id: str) -> None:
    """Open a concluded campaign again, to take runs."""
    _handle(campaign_id).reopen()
    click.echo(f"Campaign {campaign_id} is open again.", err=True)


campaign.add_command(campaign_review.review)
