"""The MCP server over stdio, on the official MCP Python SDK (its 2.x `MCPServer`): the only module
that imports it.

A library error a tool raises comes back as a tool error whose structured content is the error
object `bth run --json-errors` prints (`code`, `message`, `hint`, ...); anything else is the SDK's
generic tool error, and the server goes on serving.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult, TextContent, ToolAnnotations

from bathos import __version__
from bathos.catalog.catalog import Catalog
from bathos.errors import BathosError, error_object
from bathos.mcp import READ_TOOLS, WRITE_TOOLS
from bathos.mcp.tools import CatalogTools

SCHEMA_URI = "bathos://catalog/schema"
SKILL_URI = "bathos://skill/using-bathos"


def build_server(catalog: Catalog, *, skill: str, allow_writes: bool = False) -> MCPServer:
    """The server: the read tools over `catalog`, the write tools too with `allow_writes`, and
    the catalog's schema and `skill` (the using-bathos guide) as resources."""
    server: MCPServer = MCPServer(
        # A tool error goes to the agent; the server's stderr logs only crashes.
        "bathos", version=__version__, log_level="WARNING",
        instructions="Read the bathos catalog of experiment runs (read the skill resource "
                     f"{SKILL_URI} first). Check a run's freshness before citing its result.")
    tools = CatalogTools(catalog)
    for name in READ_TOOLS + (WRITE_TOOLS if allow_writes else ()):
        server.add_tool(_as_tool(getattr(tools, name)), name=name, annotations=ToolAnnotations(
            read_only_hint=name in READ_TOOLS, open_world_hint=False))

    @server.resource(SCHEMA_URI, name="catalog-schema", mime_type="application/json",
                     description="The views `sql` queries, and their columns with types.")
    def schema() -> str:
        return json.dumps({view: dict(columns) for view, columns in catalog.schema().items()},
                          indent=1)

    @server.resource(SKILL_URI, name="using-bathos", mime_type="text/markdown",
                     description="How to run, query and check experiments with bathos.")
    def using_bathos() -> str:
        return skill

    return server


def serve(catalog: Catalog, *, skill: str, allow_writes: bool = False) -> None:
    """Serve over stdin and stdout until the client closes them."""
    build_server(catalog, skill=skill, allow_writes=allow_writes).run("stdio")


def _as_tool(method: Callable[..., Any]) -> Callable[..., Any]:
    """`method`, with a library error it raises returned as a structured tool error."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except BathosError as exc:
            found = error_object(exc)
            text = found["message"] + (f" ({found['hint']})" if found["hint"] else "")
            return CallToolResult(content=[TextContent(type="text", text=text)],
                                  structured_content={"error": found}, is_error=True)

    return call
