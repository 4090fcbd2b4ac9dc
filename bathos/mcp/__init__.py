"""The MCP server `bth mcp` runs: the catalog's questions as tools an agent calls over stdio.

`tools` holds what each tool does (plain calls into the library, with their output bounded for an
agent's small context); `server` is the only module that imports the MCP SDK (the optional extra
`bathos[mcp]`), so nothing else in bathos needs it.
"""

from __future__ import annotations

# The tools `bth mcp` offers, in the order it lists them; the write tools only with its
# `allow_writes` (tests/mcp/test_server.py checks the server offers exactly these).
READ_TOOLS = ("list_runs", "find_runs", "get_run", "run_logs", "sql", "check", "lineage", "diff",
              "metrics", "lint", "campaign_list", "campaign_review")
WRITE_TOOLS = ("campaign_create", "campaign_add", "campaign_conclude", "tag_run")
