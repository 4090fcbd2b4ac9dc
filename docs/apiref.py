"""The generated part of docs/api.md: every name in `bathos.__all__` and `bth.__all__`, read from
the modules themselves (`cog -r @docs/cog.txt` writes it; a test fails when the page is out of
date).

The output depends only on the code: names sorted, signatures as the source writes them, no memory
addresses or paths, so it is the same on every machine.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from functools import cached_property
from types import ModuleType
from typing import Any

import attrs

KINDS = {"class": "classes", "function": "functions", "exception": "exceptions",
         "constant": "constants"}
WIDTH = 88  # a longer signature is written one parameter per line
ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
Names = list[tuple[str, Any]]


def reference() -> str:
    """The Markdown of every public name of `bathos`, then of `bth`."""
    import bathos
    import bth

    documented = {id(obj): name for name, obj in public(bathos)}
    return "\n" + module_section(bathos, {}) + "\n" + module_section(bth, documented)


def public(module: ModuleType) -> Names:
    """The module's `__all__`, sorted, with each name's object."""
    return [(name, getattr(module, name)) for name in sorted(module.__all__)]


def undocumented(module: ModuleType) -> list[str]:
    """The module's public classes and functions without a docstring of their own (a constant
    cannot have one)."""
    return [f"{module.__name__}.{name}" for name, obj in public(module)
            if kind(obj) != "constant" and own_doc(obj) is None]


def kind(obj: Any) -> str:
    if isinstance(obj, type):
        return "exception" if issubclass(obj, BaseException) else "class"
    return "function" if callable(obj) else "constant"


def own_doc(obj: Any) -> str | None:
    """The object's own docstring (not one a class inherits), or None."""
    doc = vars(obj).get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else None


def module_section(module: ModuleType, documented: dict[int, str]) -> str:
    """A `##` section per kind of name; a name for an object already `documented` under another
    name is one line pointing there."""
    prefix = module.__name__
    names = [(name, obj) for name, obj in public(module) if id(obj) not in documented]
    exported = {obj for _, obj in names if isinstance(obj, type)}
    out = []
    for k, title in KINDS.items():
        entries = [(name, obj) for name, obj in names if kind(obj) == k]
        if not entries:
            continue
        out.append(f"## `{prefix}` {title}\n")
        if k == "exception":
            tree, entries = exception_tree(entries)
            out.append("```\n" + "\n".join(tree) + "\n```\n")
        out += [entry(prefix, name, obj, exported) for name, obj in entries]
    again = [(name, documented[id(obj)]) for name, obj in public(module) if id(obj) in documented]
    if again:
        out.append(f"## `{prefix}` aliases\n")
        out += [f"- `{prefix}.{name}` is [`bathos.{home}`](#{home.lower()})"
                for name, home in again]
    return "\n".join(out) + "\n"


def exception_tree(entries: Names) -> tuple[list[str], Names]:
    """The exceptions' family tree, each under its nearest exported base, and the exceptions in
    the tree's order."""
    names = {obj: name for name, obj in entries}
    children: dict[type | None, list[type]] = {}
    for _, cls in entries:
        base = next((b for b in cls.__mro__[1:] if b in names), None)
        children.setdefault(base, []).append(cls)
    lines: list[str] = []
    order: Names = []

    def walk(cls: type, branch: str, indent: str) -> None:
        lines.append(branch + names[cls])
        order.append((names[cls], cls))
        kids = children.get(cls, [])
        for i, kid in enumerate(kids):
            last = i == len(kids) - 1
            walk(kid, indent + ("└── " if last else "├── "), indent + ("    " if last else "│   "))

    for root in children.get(None, []):
        walk(root, "", "")
    return lines, order


def entry(module: str, name: str, obj: Any, exported: set[type]) -> str:
    """`### name`, its signature (an attrs class: its fields), its docstring, and a class's
    members (not those of an `exported` base, which has its own entry)."""
    out = [f"### `{name}`\n"]
    code = declaration(module, name, obj)
    if code:
        out.append(f"```python\n{code}\n```\n")
    bases = [b for b in obj.__bases__ if b is not object] if isinstance(obj, type) else []
    if bases:
        out.append("Bases: " + ", ".join(f"`{b.__name__}`" for b in bases) + ".\n")
    if kind(obj) != "constant":
        out.append(markdown(own_doc(obj) or "(no docstring)") + "\n")
    if isinstance(obj, type):
        lines = [f"- {line}" for line in members(obj, exported - {obj})]
        out += [*lines, ""] if lines else []
    return "\n".join(out)


def declaration(module: str, name: str, obj: Any) -> str:
    if isinstance(obj, type) and attrs.has(obj):
        fields = [f"    {f.name}: {annotation(f.type)}"
                  + ("" if f.default is attrs.NOTHING else f" = {value(f.default)}")
                  for f in attrs.fields(obj) if not f.name.startswith("_")]
        return "\n".join([f"class {name}:", *fields])
    if kind(obj) == "constant":
        plain = isinstance(obj, str | int | float | bool)
        return f"{module}.{name}" + (f" = {obj!r}" if plain else f": {type(obj).__name__}")
    params = parameters(obj)
    if params is None:
        return ""
    line = f"{name}({', '.join(params)}){returns(obj)}"
    if len(line) <= WIDTH:
        return line
    return "\n".join([f"{name}(", *(f"    {p}," for p in params), f"){returns(obj)}"])


def members(cls: type, documented: set[type]) -> Iterator[str]:
    """A line per public method, property and class attribute the library defines on the class
    or on bases not `documented` apart: its name and signature, its docstring's first paragraph."""
    package = cls.__module__.split(".")[0]
    fields = {f.name for f in attrs.fields(cls)} if attrs.has(cls) else set()
    found: dict[str, tuple[type, Any]] = {}
    for klass in reversed(cls.__mro__):
        if klass.__module__.split(".")[0] == package and klass not in documented:
            found |= {name: (klass, raw) for name, raw in vars(klass).items()}
    for name, (klass, raw) in sorted(found.items()):
        if not (name.startswith("_") or name in fields or isinstance(raw, type)):
            yield member(klass, name, raw)


def member(klass: type, name: str, raw: Any) -> str:
    if isinstance(raw, property | cached_property):
        getter = raw.fget if isinstance(raw, property) else raw.func
        typed = f": {annotation(getter.__annotations__['return'])}" \
            if "return" in getter.__annotations__ else ""
        return f"`{name}{typed}` (property) — {first_paragraph(getter)}"
    func = raw.__func__ if isinstance(raw, staticmethod | classmethod) else raw
    if inspect.isroutine(func):
        params = parameters(func, drop_self=not isinstance(raw, staticmethod))
        if params is None:
            params = ["…"]
        how = {staticmethod: " (static method)", classmethod: " (class method)"}.get(type(raw), "")
        return f"`{name}({', '.join(params)}){returns(func)}`{how} — {first_paragraph(func)}"
    hint = vars(klass).get("__annotations__", {}).get(name)
    typed = f": {annotation(hint)}" if hint else ""
    return f"`{name}{typed} = {value(raw)}` (class attribute)"


def parameters(func: Callable[..., Any], *, drop_self: bool = False) -> list[str] | None:
    """Each parameter as the source writes it (`x: int | None = None`, with `/` and `*` where
    the signature has them), or None when Python keeps no signature."""
    try:
        params = list(inspect.signature(func).parameters.values())[drop_self:]
    except (TypeError, ValueError):
        return None
    out = []
    for i, p in enumerate(params):
        if p.kind is p.KEYWORD_ONLY and all(q.kind < p.VAR_POSITIONAL for q in params[:i]):
            out.append("*")
        stars = "*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else ""
        text = stars + p.name
        if p.annotation is not p.empty:
            text += f": {annotation(p.annotation)}"
        if p.default is not p.empty:
            text += (" = " if p.annotation is not p.empty else "=") + value(p.default)
        out.append(text)
        if p.kind is p.POSITIONAL_ONLY and params[i + 1:i + 2] and \
                params[i + 1].kind is not p.POSITIONAL_ONLY:
            out.append("/")
    return out


def returns(func: Callable[..., Any]) -> str:
    """` -> T` for a function that declares it; "" for a class."""
    if isinstance(func, type):
        return ""
    hint = inspect.signature(func).return_annotation
    return "" if hint is inspect.Signature.empty else f" -> {annotation(hint)}"


def first_paragraph(obj: Any) -> str:
    doc = own_doc(obj)
    return " ".join(doc.split("\n\n")[0].split()) if doc else "(no docstring)"


def markdown(doc: str) -> str:
    """A docstring as Markdown: doctest lines and indented examples become code blocks (left as
    they are, `>>>` would start a quote)."""
    blocks: list[tuple[bool, list[str]]] = []
    for paragraph in doc.split("\n\n"):
        lines = paragraph.splitlines()
        is_code = all(line.startswith((">>>", "...", " ")) for line in lines)
        if is_code and blocks and blocks[-1][0]:
            blocks[-1][1].extend(["", *lines])
        else:
            blocks.append((is_code, lines))
    return "\n\n".join(
        f"```python\n{textwrap.dedent(chr(10).join(lines))}\n```" if is_code else "\n".join(lines)
        for is_code, lines in blocks
    )


def annotation(hint: Any) -> str:
    """An annotation as the source writes it (a string, under `from __future__ import
    annotations`)."""
    return hint if isinstance(hint, str) else inspect.formatannotation(hint)


def value(obj: Any) -> str:
    """A default value as code; a factory as its call (`list()`)."""
    if isinstance(obj, attrs.Factory):  # type: ignore[arg-type]
        return f"{getattr(obj.factory, '__name__', 'factory')}()"
    return ADDRESS.sub("", repr(obj))
