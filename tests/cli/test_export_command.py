"""`bth export`: the skill and the `bth mcp` entry, merged into each agent tool's own files as a
user has them (other servers, other settings, comments), twice without change, and not at all
with --dry-run or when a file does not parse."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from project import BIN_DIR, Project, make_project

pytest.importorskip("tomlkit")

CLAUDE_MCP = """\
{
    "mcpServers": {
        "github": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-github"]
        }
    },
    "zz-last": true
}
"""
CODEX_TOML = """\
# my codex settings
model = "o4"  # the one I use

[mcp_servers.docs]
command = "docs-mcp"
args = ["--port", "0"]

[profiles.fast]
model = "o4-mini"
"""
GEMINI_SETTINGS = """\
{
  "theme": "Dracula",
  "mcpServers": {
    "pythonTools": {"command": "python", "args": ["-m", "tools"]}
  }
}
"""
AGENTS_MD = "# Agents\n\nRun the tests with nox.\n"


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", {"README.md": "demo\n"})


def export(proj: Project, *args: str, home: Path | None = None, expect: int = 0) -> str:
    done = proj.bth("export", *args, env={"HOME": str(home)} if home else None)
    assert done.returncode == expect, done.stderr
    return done.stdout + done.stderr


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".git" not in p.parts}


def test_claude_keeps_its_other_servers_keys_and_indentation_and_gets_the_skill(
        proj: Project) -> None:
    proj.write(".mcp.json", CLAUDE_MCP)

    export(proj, "--tool", "claude")

    text = (proj.root / ".mcp.json").read_text()
    config = json.loads(text)
    assert list(config) == ["mcpServers", "zz-last"]
    assert list(config["mcpServers"]) == ["github", "bathos"]
    assert config["mcpServers"]["github"] == json.loads(CLAUDE_MCP)["mcpServers"]["github"]
    bathos = config["mcpServers"]["bathos"]
    assert bathos["type"] == "stdio" and bathos["args"] == ["mcp"]
    assert Path(bathos["command"]).name == "bth"
    assert '\n    "mcpServers": {\n        "github"' in text  # its 4-space indentation
    skill = (proj.root / ".claude/skills/using-bathos/SKILL.md").read_text()
    assert skill.startswith("---\nname: using-bathos\ndescription: ")
    assert "bth check" in skill


def test_codex_keeps_the_comments_and_tables_of_its_toml_and_the_rest_of_agents_md(
        proj: Project, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".codex").mkdir(parents=True)
    (home / ".codex/config.toml").write_text(CODEX_TOML)
    (home / ".codex/AGENTS.md").write_text(AGENTS_MD)

    export(proj, "--tool", "codex", "--scope", "user", home=home)

    text = (home / ".codex/config.toml").read_text()
    added = [line for line in text.splitlines() if line not in CODEX_TOML.splitlines()]
    assert added == ["[mcp_servers.bathos]", f'command = "{Path(BIN_DIR) / "bth"}"',
                     'args = ["mcp"]']  # every other line as it was, comments too
    assert 'args = ["mcp"]\n\n[profiles.fast]' in text
    config = tomllib.loads(text)
    assert list(config["mcp_servers"]) == ["docs", "bathos"]
    assert config["mcp_servers"]["bathos"]["args"] == ["mcp"]
    assert config["profiles"] == {"fast": {"model": "o4-mini"}}
    agents = (home / ".codex/AGENTS.md").read_text()
    assert agents.startswith(AGENTS_MD)
    assert agents.count("## Check freshness before citing a result") == 1
    assert not (proj.root / "AGENTS.md").exists()


def test_gemini_and_cursor_keep_their_other_settings(proj: Project) -> None:
    proj.write(".gemini/settings.json", GEMINI_SETTINGS)
    proj.write(".cursor/mcp.json", '{"mcpServers": {"other": {"command": "x"}}}\n')

    export(proj, "--tool", "gemini", "--tool", "cursor")

    gemini = json.loads((proj.root / ".gemini/settings.json").read_text())
    assert gemini["theme"] == "Dracula"
    assert list(gemini["mcpServers"]) == ["pythonTools", "bathos"]
    cursor = json.loads((proj.root / ".cursor/mcp.json").read_text())
    assert list(cursor["mcpServers"]) == ["other", "bathos"]
    assert "## Query" in (proj.root / "GEMINI.md").read_text()
    rule = (proj.root / ".cursor/rules/using-bathos.mdc").read_text()
    assert rule.startswith("---\ndescription: Run, query and check experiments")
    assert "alwaysApply: false" in rule


@pytest.mark.parametrize("tool", ["claude", "codex", "gemini", "cursor"])
def test_a_second_export_changes_nothing(proj: Project, tool: str) -> None:
    proj.write("AGENTS.md", AGENTS_MD)
    proj.write(".codex/config.toml", CODEX_TOML)
    export(proj, "--tool", tool)
    before = snapshot(proj.root)

    said = export(proj, "--tool", tool)

    assert snapshot(proj.root) == before
    assert "nothing to change" in said


def test_dry_run_prints_the_diff_and_writes_nothing(proj: Project) -> None:
    proj.write(".mcp.json", CLAUDE_MCP)
    before = snapshot(proj.root)

    said = export(proj, "--tool", "claude", "--dry-run")

    assert snapshot(proj.root) == before
    assert f"+++ {proj.root / '.mcp.json'}" in said
    assert '+        "bathos": {' in said
    assert "+name: using-bathos" in said
    assert "2 of 2 files would change" in said


def test_a_config_that_does_not_parse_is_told_in_one_line_and_left_as_it_is(
        proj: Project) -> None:
    proj.write(".mcp.json", "{not json")
    proj.write(".codex/config.toml", "[mcp_servers\n")
    before = snapshot(proj.root)

    for tool, name in (("claude", ".mcp.json"), ("codex", "config.toml")):
        done = proj.bth("export", "--tool", tool)
        assert done.returncode == 2
        (line,) = done.stderr.strip().splitlines()
        assert line.startswith("Error: ") and name in line and "left as it is" in line
    assert snapshot(proj.root) == before


def test_export_outside_a_project_asks_for_user_scope(tmp_path: Path) -> None:
    proj = Project(tmp_path / "plain")
    proj.root.mkdir()

    done = proj.bth("export")

    assert done.returncode == 2
    assert "--scope user" in done.stderr


def test_the_skill_is_written_from_this_bathos_and_its_commands() -> None:
    import click

    from bathos import __version__
    from bathos_cli.agents import skill_text
    from bathos_cli.main import COMMANDS, cli

    skill = skill_text()

    assert f"(bth {__version__})" in skill
    assert all(f"- `bth {name}`: " in skill for name in COMMANDS)
    run = cli.get_command(click.Context(cli), "run")
    assert run is not None
    assert all(f"- `{option.opts[0]}" in skill for option in run.params
               if isinstance(option, click.Option) and option.help)
    assert "- `--agent-mode collaborative|autonomous`" in skill
