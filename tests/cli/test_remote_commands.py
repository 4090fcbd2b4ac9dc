"""`bth remote add/list/remove`: remotes kept in the project's .bth.toml or the user's
config.toml, edited without touching the rest of the file. (Connecting: tests/sync.)"""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import bth

import bathos
from bathos.projects import init_project


def test_a_project_remote_is_added_listed_and_removed_keeping_the_file(tmp_path: Path) -> None:
    init_project(tmp_path)
    config = tmp_path / ".bth.toml"
    config.write_text("# our settings\n" + config.read_text())

    added = bth("remote", "add", "engaging", "ana@eofe7.mit.edu:~/.bth")
    assert added.exit_code == 0, added.stderr
    assert "Added remote 'engaging'" in added.stderr
    assert bth("remote", "add", "--user", "home", "nas:/srv/bth").exit_code == 0

    listed = json.loads(bth("remote", "list", "--json").stdout)
    assert listed == [
        {"name": "engaging", "host": "ana@eofe7.mit.edu", "path": "~/.bth", "scope": "project"},
        {"name": "home", "host": "nas", "path": "/srv/bth", "scope": "user"},
    ]
    assert bathos.list_remotes()[0].spec == "ana@eofe7.mit.edu:~/.bth"

    assert bth("remote", "remove", "engaging").exit_code == 0
    assert config.read_text().startswith("# our settings\n")
    assert "engaging" not in config.read_text()
    assert [r.name for r in bathos.list_remotes()] == ["home"]


def test_remotes_made_by_bth_init_are_the_same_remotes(tmp_path: Path) -> None:
    assert bth("init", "--remote", "cluster=login.hpc:~/.bth").exit_code == 0
    assert bth("remote", "list").stdout.split() == ["name", "host", "path", "scope", "cluster",
                                                   "login.hpc", "~/.bth", "project"]


def test_bad_remotes_are_one_line_and_exit_2(tmp_path: Path) -> None:
    init_project(tmp_path)
    cases = [
        (("remote", "add", "x", "no-colon"), "is not [user@]host:path"),
        (("remote", "add", "bad name", "h:p"), "invalid remote name"),
        (("remote", "remove", "ghost"), "no remote 'ghost'"),
        (("sync", "ghost"), "no remote 'ghost'"),
        (("sync",), "no remote to sync with"),
    ]
    for args, message in cases:
        done = bth(*args)
        assert done.exit_code == 2, (args, done.stderr)
        assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr
    assert bth("remote", "add", "x", "h:p").exit_code == 0
    again = bth("remote", "add", "x", "h:q")
    assert again.exit_code == 2 and "already has a remote 'x'" in again.stderr
