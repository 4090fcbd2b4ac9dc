"""Connecting a coding agent to bathos: the files `bth export` writes for each agent tool.

For each tool, two things: the using-bathos skill where the tool looks for skills or instructions,
and the `bth mcp` server entry merged into the tool's MCP configuration. Where each tool looks
(from its documentation; docs/agents.md names the sources):

    tool    MCP configuration (project | user scope)            skill or instructions
    claude  .mcp.json | ~/.claude.json, "mcpServers"           .claude/skills/using-bathos/SKILL.md
    codex   .codex/config.toml | ~/.codex/config.toml,          AGENTS.md | ~/.codex/AGENTS.md
            [mcp_servers.NAME] ($CODEX_HOME for ~/.codex)
    gemini  .gemini/settings.json | ~/.gemini/settings.json,   GEMINI.md | ~/.gemini/GEMINI.md
            "mcpServers"
    cursor  .cursor/mcp.json | ~/.cursor/mcp.json,             .cursor/rules/using-bathos.mdc
            "mcpServers"                                        (project scope only)

A merge changes the one entry and keeps everything else: JSON keeps its keys' order and its
indentation, TOML (through tomlkit) its comments and layout, and a shared instructions file
(AGENTS.md, GEMINI.md) everything outside bathos's marked section. A file already as it should be
is left as it is, so exporting twice changes nothing.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from bathos.errors import ConfigError
from bathos.fsutil import atomic_write_bytes

Tool = Literal["claude", "codex", "gemini", "cursor"]
Scope = Literal["project", "user"]
TOOLS: tuple[Tool, ...] = ("claude", "codex", "gemini", "cursor")
SERVER_NAME = "bathos"
SKILL_NAME = "using-bathos"
_BEGIN = f"<!-- {SKILL_NAME}: written by bth export, replaced by the next one -->"
_END = f"<!-- end of {SKILL_NAME} -->"


@attrs.frozen
class AgentFile:
    """One file `bth export` writes: its text now (None: it does not exist) and as it will be."""

    path: Path
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def diff(self) -> str:
        """The change as a unified diff ("" when none)."""
        return "".join(difflib.unified_diff(
            (self.before or "").splitlines(keepends=True), self.after.splitlines(keepends=True),
            "/dev/null" if self.before is None else str(self.path), str(self.path)))


def plan_export(tool: Tool, *, scope: Scope, skill: str, command: Sequence[str],
                project_root: Path | None = None, home: Path | None = None) -> list[AgentFile]:
    """The files that connect `tool` to bathos at `scope`: the skill (markdown with a
    `description` front matter) and the MCP server entry running `command`, each as it is and
    as it would be. Nothing is written (`write_export` writes them). A configuration file that
    does not parse, or holds the entry's place with something else, is a ConfigError."""
    if tool not in TOOLS:
        raise ConfigError(f"no agent tool {tool!r} (choose {', '.join(TOOLS)})")
    if scope == "project" and project_root is None:
        raise ConfigError("project scope needs the project's directory")
    base = project_root if scope == "project" else (home or Path.home())
    assert base is not None
    argv = list(command)
    entry: dict[str, Any] = {"command": argv[0], "args": argv[1:]}
    files: list[AgentFile] = []
    if tool == "claude":
        config = base / (".mcp.json" if scope == "project" else ".claude.json")
        files.append(_json_entry(config, "mcpServers", {"type": "stdio", **entry}))
        files.append(_whole(base / ".claude" / "skills" / SKILL_NAME / "SKILL.md", skill))
    elif tool == "codex":
        codex_home = (base / ".codex" if scope == "project"
                      else Path(os.environ.get("CODEX_HOME") or base / ".codex"))
        files.append(_toml_entry(codex_home / "config.toml", entry))
        files.append(_section(base / "AGENTS.md" if scope == "project"
                              else codex_home / "AGENTS.md", skill))
    elif tool == "gemini":
        files.append(_json_entry(base / ".gemini" / "settings.json", "mcpServers", entry))
        files.append(_section(base / "GEMINI.md" if scope == "project"
                              else base / ".gemini" / "GEMINI.md", skill))
    else:
        files.append(_json_entry(base / ".cursor" / "mcp.json", "mcpServers", entry))
        if scope == "project":
            files.append(_whole(base / ".cursor" / "rules" / f"{SKILL_NAME}.mdc",
                                _cursor_rule(skill)))
    return files


def write_export(files: Sequence[AgentFile]) -> list[Path]:
    """Write each file of `files` that changes, atomically; the paths written."""
    written = []
    for file in files:
        if file.changed:
            atomic_write_bytes(file.path, file.after.encode("utf-8"))
            written.append(file.path)
    return written


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}; it was left as it is") from None


def _whole(path: Path, text: str) -> AgentFile:
    return AgentFile(path, _read(path), text)


def _section(path: Path, skill: str) -> AgentFile:
    """A shared instructions file with bathos's section in it (replaced where it was, else
    appended), and everything else as it was."""
    before = _read(path)
    block = f"{_BEGIN}\n{_body(skill).strip()}\n{_END}\n"
    if before is None or not before.strip():
        return AgentFile(path, before, block)
    found = re.search(f"{re.escape(_BEGIN)}.*?{re.escape(_END)}\n?", before, re.DOTALL)
    if found:
        return AgentFile(path, before, before[:found.start()] + block + before[found.end():])
    return AgentFile(path, before, before.rstrip("\n") + "\n\n" + block)


def _json_entry(path: Path, key: str, entry: dict[str, Any]) -> AgentFile:
    """A JSON configuration with `entry` as `key`.bathos, its other keys in their order and
    its indentation as it was (2 spaces for a new file)."""
    before = _read(path)
    data: Any = {}
    if before is not None and before.strip():
        try:
            data = json.loads(before)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSON ({exc}); it was left as it is") from None
    servers = data.get(key, {}) if isinstance(data, dict) else None
    if not isinstance(servers, dict):
        what = key if isinstance(data, dict) else "top level"
        raise ConfigError(f"{path}: its {what} is not a JSON object, so bathos cannot add its "
                          "server there; it was left as it is")
    if servers.get(SERVER_NAME) == entry:
        return AgentFile(path, before, before or "")
    data[key] = {**servers, SERVER_NAME: entry}
    indent = _indent(before)
    after = json.dumps(data, indent=indent, ensure_ascii=False) + "\n"
    return AgentFile(path, before, after)


def _indent(text: str | None) -> int | str:
    found = re.search(r"^[ \t]+(?=\S)", text or "", re.MULTILINE)
    if not found:
        return 2
    space = found.group(0)
    return len(space) if set(space) == {" "} else space


def _toml_entry(path: Path, entry: dict[str, Any]) -> AgentFile:
    """A TOML configuration with `entry` as [mcp_servers.bathos], its comments and layout kept
    (tomlkit)."""
    try:
        import tomlkit
        from tomlkit.exceptions import TOMLKitError
    except ImportError:
        raise ConfigError("editing a TOML configuration needs tomlkit, which the mcp extra "
                          "installs", hint="pip install 'bathos[mcp]'") from None
    before = _read(path)
    try:
        doc = tomlkit.parse(before or "")
    except TOMLKitError as exc:
        raise ConfigError(f"{path} is not valid TOML ({exc}); it was left as it is") from None
    servers = doc.get("mcp_servers")
    if servers is None:
        servers = tomlkit.table(is_super_table=True)
        doc["mcp_servers"] = servers
    elif not isinstance(servers, dict):
        raise ConfigError(f"{path}: its mcp_servers is not a table, so bathos cannot add its "
                          "server there; it was left as it is")
    if servers.get(SERVER_NAME) == entry:
        return AgentFile(path, before, before or "")
    table = tomlkit.table()
    table.update(entry)
    table.add(tomlkit.nl())  # a blank line before the table that follows, as is usual
    servers[SERVER_NAME] = table
    return AgentFile(path, before, tomlkit.dumps(doc))


def _body(skill: str) -> str:
    """The skill without its front matter."""
    found = re.match(r"---\n.*?\n---\n", skill, re.DOTALL)
    return skill[found.end():] if found else skill


def _cursor_rule(skill: str) -> str:
    """The skill as a Cursor rule: its description, applied when the agent finds it relevant."""
    found = re.search(r"^description: (.*)$", skill, re.MULTILINE)
    description = found.group(1) if found else "How to use bathos"
    return f"---\ndescription: {description}\nalwaysApply: false\n---\n{_body(skill)}"
