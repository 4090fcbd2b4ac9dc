"""The generated parts of docs/ (cli.md's `--help` of every command, api.md's reference of every
public name) must match the code as it is, and every public name must say what it is in
`help()`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import bathos
import bth

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "docs"))
import apiref

ROOT = Path(__file__).resolve().parents[1]


def test_generated_docs_match_the_code() -> None:
    cog = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "--diff", "@docs/cog.txt"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert cog.returncode == 0, (
        "a generated page of docs/ is out of date with the code: run `cog -r @docs/cog.txt`\n"
        + cog.stdout + cog.stderr
    )


def test_every_public_name_has_a_docstring() -> None:
    missing = apiref.undocumented(bathos) + apiref.undocumented(bth)
    assert not missing, f"no docstring (help() and docs/api.md show nothing for): {missing}"


def test_every_script_in_the_docs_imports_what_it_uses() -> None:
    """A ```python block that does `import bth` is a script a reader pastes: defining what it
    defines (annotations included) must need nothing it does not import."""
    blocks = [(page, block) for page in (ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")))
              for block in re.findall(r"^```python\n(.*?)^```", page.read_text(),
                                      re.MULTILINE | re.DOTALL)
              if re.search(r"^import bth$", block, re.MULTILINE)]

    assert len(blocks) >= 2
    for page, block in blocks:
        code = compile(block, str(page), "exec", dont_inherit=True)  # no `annotations` future
        exec(code, {"__name__": "pasted"})  # not run as __main__
