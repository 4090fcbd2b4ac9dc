"""`bth mcp` as an agent meets it: the MCP SDK's own client starts `bth mcp` over stdio (a real
subprocess) in a real project whose runs `bth run` recorded, lists its tools and calls each."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from project import Project, base_env, make_project

from bathos import Catalog
from bathos.mcp import READ_TOOLS, WRITE_TOOLS

mcp = pytest.importorskip("mcp")

FIT = """\
import sys
from pathlib import Path

import bth

lr = float(sys.argv[sys.argv.index("--lr") + 1])
data = Path("data/points.txt").read_text()
for i in range(300):
    print(f"step {i}")
    bth.log(step=i, loss=lr / (i + 1))
Path("outputs").mkdir(exist_ok=True)
Path("outputs/fit.txt").write_text(f"{lr} {len(data)}\\n")
"""

Session = Any  # mcp.ClientSession


@asynccontextmanager
async def connected(proj: Project, *args: str) -> AsyncIterator[Session]:
    """An initialised client session with `bth mcp ARGS` started in the project."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(command=sys.executable, args=["-m", "bathos_cli", "mcp", *args],
                                   env=base_env(), cwd=proj.root)
    with open(proj.root.parent / "mcp-stderr.txt", "w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), \
                ClientSession(read, write) as session:
            await session.initialize()
            yield session


def talk(proj: Project, work: Callable[[Session], Awaitable[Any]], *args: str) -> Any:
    """`work(session)` against a `bth mcp ARGS` of its own."""

    async def main() -> Any:
        async with connected(proj, *args) as session:
            return await work(session)

    return anyio.run(main)


async def call(session: Session, tool: str, **arguments: Any) -> dict[str, Any]:
    """A tool's structured answer; a tool error fails the test with its text."""
    result = await session.call_tool(tool, arguments)
    assert not result.is_error, result.content
    answer: dict[str, Any] = result.structured_content
    return answer


async def refused(session: Session, tool: str, **arguments: Any) -> dict[str, Any]:
    """The error a tool call came back with (it must be one)."""
    result = await session.call_tool(tool, arguments)
    assert result.is_error, result.structured_content
    return {"text": result.content[0].text, **(result.structured_content or {})}


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    """A project with two runs of a fit script, the second derived from the first."""
    proj = make_project(tmp_path / "proj", {"scripts/experiments/fit.py": FIT,
                                            "data/points.txt": "1 2\n3 4\n"})
    first = proj.bth_run("--tag", "sweep", "scripts/experiments/fit.py", "--", "--lr", "0.1")
    proj.bth_run("--derived-from", first.id, "scripts/experiments/fit.py", "--", "--lr", "0.2")
    return proj


def test_an_agent_lists_the_tools_and_calls_each_against_the_runs_bth_run_recorded(
        proj: Project) -> None:
    second, first = (r["id"] for r in Catalog().runs(project="proj"))

    async def work(s: Session) -> dict[str, Any]:
        listed = await s.list_tools()
        found = {"tools": [t.name for t in listed.tools]}
        for name, args in {
            "list_runs": {"project": "proj"},
            "find_runs": {"script": "fit.py", "params": {"lr": "0.10"}},
            "get_run": {"run_id": first[:-2]},
            "run_logs": {"run_id": first, "lines": 5},
            "sql": {"query": "SELECT id, status FROM runs ORDER BY started_at"},
            "check": {"run_ids": [first]},
            "lineage": {"run_id": second},
            "diff": {"run_a": first, "run_b": second},
            "metrics": {"run_ids": [first], "keys": ["loss"], "limit": 3},
            "lint": {"project_root": str(proj.root)},
            "campaign_list": {},
        }.items():
            found[name] = await call(s, name, **args)
        schema = await s.read_resource("bathos://catalog/schema")
        skill = await s.read_resource("bathos://skill/using-bathos")
        found["resources"] = (json.loads(schema.contents[0].text), skill.contents[0].text)
        return found

    got = talk(proj, work)

    assert got["tools"] == list(READ_TOOLS)
    assert [r["id"] for r in got["list_runs"]["items"]] == [second, first]
    assert [r["id"] for r in got["find_runs"]["items"]] == [first]
    assert got["find_runs"]["items"][0]["tags"] == ["sweep"]
    record = got["get_run"]["result"]
    assert record["id"] == first and record["status"] == "completed"
    assert got["run_logs"]["result"] == "\n".join(f"step {i}" for i in range(295, 300))
    assert got["run_logs"]["note"] == "the last 5 of 300 lines"
    assert [r["id"] for r in got["sql"]["items"]] == [first, second]
    assert got["sql"]["next_offset"] is None and got["sql"]["note"] is None
    (verdict,) = got["check"]["items"]
    assert (verdict["run_id"], verdict["verdict"]) == (first, "fresh")
    assert {(e["parent"], e["child"]) for e in got["lineage"]["result"]["edges"]} == {
        (first, second)}
    changed = got["diff"]["result"]["params"]["changes"]
    assert [(c["key"], c["a"], c["b"]) for c in changed] == [("lr", "0.1", "0.2")]
    assert [(p["step"], p["value"]) for p in got["metrics"]["items"]] == [
        (0, 0.1), (1, 0.05), (2, 0.1 / 3)]
    assert got["metrics"]["next_offset"] == 3
    assert [(f["path"], f["rule"]) for f in got["lint"]["items"]] == [
        ("scripts/experiments/fit.py", "naming")]
    assert got["campaign_list"]["items"] == []
    views, skill = got["resources"]
    assert views["runs"]["id"] == "VARCHAR"
    assert views["campaigns"]["hypothesis"] == "VARCHAR"
    assert "bth check" in skill and "--agent-mode" in skill


def test_a_stale_result_is_told_with_the_file_that_changed(proj: Project) -> None:
    first = Catalog().runs(project="proj")[-1]["id"]
    proj.write("data/points.txt", "5 6\n")
    proj.commit("new points")

    got = talk(proj, lambda s: call(s, "check", run_ids=[first]))

    (verdict,) = got["items"]
    assert verdict["verdict"] == "stale"
    assert [r["path"] for r in verdict["reasons"]] == ["data/points.txt"]


def test_sql_that_would_write_is_refused_and_the_server_serves_on(proj: Project) -> None:
    async def work(s: Session) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        deleting = await refused(s, "sql", query="DELETE FROM runs")
        copying = await refused(s, "sql", query="COPY runs TO '/tmp/x.csv'")
        return deleting, copying, await call(s, "sql", query="SELECT count(*) AS n FROM runs")

    deleting, copying, after = talk(proj, work)

    assert deleting["error"]["code"] == "query_refused"
    assert "read-only" in deleting["text"]
    assert copying["error"]["code"] == "query_refused"
    assert after["items"] == [{"n": 2}]


def test_a_huge_answer_is_cut_with_a_note_saying_how_to_page_on(proj: Project) -> None:
    async def work(s: Session) -> list[dict[str, Any]]:
        return [
            await call(s, "sql", query="SELECT range AS i FROM range(10000000)", limit=200),
            await call(s, "sql", query="SELECT repeat('x', 100000) AS big"),
            await call(s, "list_runs", limit=1),
            await call(s, "list_runs", limit=1, offset=1),
        ]

    rows, wide, page1, page2 = talk(proj, work)

    assert len(rows["items"]) == 200 and rows["items"][-1] == {"i": 199}
    assert rows["next_offset"] == 200
    assert "more than 200 found" in rows["note"]
    assert len(wide["items"][0]["big"]) < 2100
    assert "the first 2000 of 100000 characters" in wide["note"]
    assert page1["next_offset"] == 1 and page2["next_offset"] is None
    assert page1["items"][0]["id"] != page2["items"][0]["id"]


def test_bad_input_comes_back_as_a_tool_error_with_its_code(proj: Project) -> None:
    async def work(s: Session) -> list[dict[str, Any]]:
        return [await refused(s, "get_run", run_id="zzzz9"),
                await refused(s, "run_logs", run_id="0000", stream="stdout"),
                await refused(s, "list_runs", limit=100000),
                await call(s, "list_runs")]

    missing, bad_prefix, too_many, still = talk(proj, work)

    assert missing["error"]["code"] in ("run_not_found", "config_error")
    assert bad_prefix["error"]["code"] == "run_not_found"
    assert "limit" in too_many["text"]
    assert len(still["items"]) == 2


def test_write_tools_are_refused_without_allow_writes(proj: Project) -> None:
    run_id = Catalog().runs(project="proj").to_dicts()[0]["id"]

    async def work(s: Session) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
        names = [t.name for t in (await s.list_tools()).tools]
        return (names, await refused(s, "campaign_create", campaign_id="lr", project="proj",
                                     hypothesis="a smaller lr fits better"),
                await refused(s, "tag_run", run_id=run_id, add=["best"]))

    names, answer, tagging = talk(proj, work)

    assert not set(WRITE_TOOLS) & set(names)
    assert "campaign_create" in answer["text"]
    assert "tag_run" in tagging["text"]
    assert Catalog().campaigns().to_dicts() == []
    assert "best" not in Catalog().get(run_id).tags


def test_with_allow_writes_a_campaign_is_made_and_each_write_says_who_and_when(
        proj: Project) -> None:
    run_ids = [r["id"] for r in Catalog().runs(project="proj")]

    async def work(s: Session) -> list[dict[str, Any]]:
        return [
            await call(s, "campaign_create", campaign_id="lr", project="proj",
                       hypothesis="a smaller lr fits better"),
            await call(s, "campaign_add", campaign_id="lr", run_ids=run_ids),
            await call(s, "campaign_review", campaign_id="lr", by="param:lr"),
            await call(s, "campaign_conclude", campaign_id="lr", outcome="supported"),
            await refused(s, "campaign_add", campaign_id="lr", run_ids=run_ids[:1]),
            await call(s, "campaign_list"),
        ]

    created, added, review, concluded, closed, listed = talk(proj, work, "--allow-writes")

    assert created["result"]["status"] == "open"
    assert added["result"]["added"] == run_ids
    assert review["result"]["campaign"]["run_ids"] == run_ids
    assert review["result"]["by"] == "param:lr"
    assert sorted(review["result"]["arms"]) == ["lr=0.1", "lr=0.2"]
    assert concluded["result"]["outcome"] == "supported"
    assert closed["error"]["code"] == "campaign_closed"
    assert [(c["id"], c["n_runs"]) for c in listed["items"]] == [("lr", 2)]
    events = [json.loads(p.read_text()) for p in
              sorted((Catalog().path / "campaigns" / "proj" / "lr").glob("*.json"))]
    assert [e["kind"] for e in events] == ["create", "add", "conclude"]
    assert all("@" in e["by"] and e["time"] for e in events)


def test_with_allow_writes_an_agent_tags_a_run_and_the_run_records_who_and_when(
        proj: Project) -> None:
    first = Catalog().runs(project="proj", tags=["sweep"]).to_dicts()[0]["id"]

    async def work(s: Session) -> list[dict[str, Any]]:
        return [
            await call(s, "tag_run", run_id=first[:8], add=["best"], remove=["sweep"]),
            await call(s, "list_runs", tags=["best"]),
            await refused(s, "tag_run", run_id=first, add=["has space"]),
        ]

    tagged, listed, bad = talk(proj, work, "--allow-writes")

    assert tagged["result"]["tags"] == ["best"]
    edit = tagged["result"]["edit"]
    assert (edit["add"], edit["remove"]) == (["best"], ["sweep"])
    assert "@" in edit["by"] and edit["time"]
    assert [r["id"] for r in listed["items"]] == [first]
    assert bad["error"]["code"] == "config_error" and "has space" in bad["text"]
    assert Catalog().get(first).tags == ("best",)


def test_mcp_help_names_every_tool() -> None:
    from click.testing import CliRunner

    from bathos_cli.main import cli

    shown = CliRunner().invoke(cli, ["mcp", "--help"]).output

    assert all(name in shown for name in READ_TOOLS + WRITE_TOOLS)
