"""What runs inside a tracked Python script's own interpreter, loaded there by `bootstrap.py`:
the script, run as `python SCRIPT` would run it, and the audit hook that notes its file access.

Standard library only, Python 3.8 and later: that interpreter may not have bathos installed.

An audit hook (`sys.addaudithook`) notes every file opened (`open`, `os.open`, `io.open_code`),
renamed, copied or removed, and when the script parses its command line with argparse or Click
(Typer), the parsed values. Notes are kept in memory, one per path, and appended to the report at
exit, at SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2, every 0.25 s while new paths come, and at once in
a forked child. The report starts with `x<TAB>PREFIX` lines, the directories whose files are the
interpreter's own; then come batches: `@<TAB>CWD`, the directory relative paths are relative to,
`#<TAB>CODES`, one character per path that follows (`chr(48 + modes)`, modes the sum of READ,
WRITE, DELETE (or renamed away), MOVED (here, by a rename), NAMED (by a parsed parameter) and
IMPORTED (as a module: at exit)), then the paths, one a line (as a JSON string when one holds a
newline or starts with `"`); and `=<TAB>{json}` lines, parsed parameters.
"""

import os
import sys
from itertools import islice  # a built-in module: nothing is imported later, in a forked child

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

READ, WRITE, DELETE, MOVED, NAMED, IMPORTED = 1, 2, 4, 8, 16, 32
_CODES = bytes((48 + n) % 256 for n in range(256))  # modes 0-63 as one character, `0` to `o`
_OPEN = (READ, WRITE, READ | WRITE, READ | WRITE)  # by flags & 3: O_RDONLY, O_WRONLY, O_RDWR
_OTHER = frozenset(("os.rename", "os.remove", "shutil.copyfile", "os.link", "os.truncate",
                    "os.chdir"))
_FLUSH_EVERY_S = 0.25
_FLUSH_AT = 2048  # pending paths
_CLOCK_EVERY = 64  # new paths in a burst between two looks at the clock
_FORGET_AT = 4096  # paths kept to tell new ones from those already written


class _Report:
    """The notes of one process, appended to the report file in batches.

    The hook does the least it can, since a script may open thousands of files: `open` of a new
    path costs a dict lookup, a store and a comparison. Paths are kept as the script gave them,
    in the order first seen, so a batch is the paths seen since the last one (and those with
    new modes); past 4,096 they are forgotten once written (a path seen again is written again,
    and bathos reads them as one). Each batch starts with the cwd they are relative to (a
    chdir writes the batch first), and bathos drops the paths under the excluded prefixes the
    report starts with.
    """

    def __init__(self, fd: int, excluded: "tuple[str, ...]") -> None:
        import time

        self.fd = fd
        self.seen: dict[str, int] = {}  # relative paths relative to the cwd of now
        self.written = 0  # how many of `seen` were written
        self.grown: list[str] = []  # paths written before, seen with new modes since
        self.params: list[str] = []
        self.check_at = [1]  # the size of `seen` at which to see if a batch is due
        self.clock = time.monotonic
        self.flushed_at = -_FLUSH_EVERY_S  # the first note is written at once
        self.batch = _FLUSH_AT  # 1 in a forked child, which may end with os._exit
        self.audit = self._hook()
        self.write("".join(f"x\t{prefix}\n" for prefix in excluded))

    def _hook(self) -> "Callable[[str, tuple[Any, ...]], None]":
        """The audit hook: every audit event of the process calls it."""
        seen, check_at, checkpoint, grow, note, other = (
            self.seen, self.check_at, self.checkpoint, self.grow, self.note, self.other)

        def audit(event: str, args: "tuple[Any, ...]") -> None:
            if event == "open":
                try:
                    path, _, flags = args
                    if path in seen:
                        old = seen[path]
                        if old | _OPEN[flags & 3] != old:
                            grow(path, old | _OPEN[flags & 3])
                    elif type(path) is str:
                        seen[path] = _OPEN[flags & 3]
                        if len(seen) >= check_at[0]:
                            checkpoint()
                    elif not isinstance(path, int):  # bytes, a PathLike; not a descriptor
                        note(path, _OPEN[flags & 3])
                except Exception:  # an audit hook must never break the script
                    pass
            elif event in _OTHER:
                other(event, args)

        return audit

    def grow(self, path: str, bits: int) -> None:
        self.seen[path] = bits
        self.grown.append(path)
        self.checkpoint()

    def checkpoint(self) -> None:
        """Write a batch when it is full or the last one is 0.25 s old; else look again at the
        next new path, or in a burst (64 new paths waiting) at the 64th from now."""
        waiting = len(self.seen) - self.written + len(self.grown)
        if waiting >= self.batch or self.clock() - self.flushed_at > _FLUSH_EVERY_S:
            self.flush()
        else:
            self.check_at[0] = len(self.seen) + (1 if waiting < _CLOCK_EVERY else _CLOCK_EVERY)

    def note(self, path: "Any", bits: int, dir_fd: "int | None" = None) -> None:
        if path.__class__ is not str:
            if isinstance(path, int):
                return
            path = os.fsdecode(path)
        if dir_fd is not None and path[:1] != "/":
            path = os.readlink(f"/proc/self/fd/{dir_fd}") + "/" + path
        old = self.seen.get(path)
        if old is None:
            self.seen[path] = bits
            self.checkpoint()
        elif old | bits != old:
            self.grow(path, old | bits)

    def other(self, event: str, args: "tuple[Any, ...]") -> None:
        try:
            if event == "os.chdir":  # before the change: relative paths are written first
                self.flush()
                for path in [p for p in self.seen if p[:1] != "/"]:
                    del self.seen[path]
                self.written = len(self.seen)
                self.check_at[0] = self.written + 1
            elif event == "os.rename":  # os.rename and os.replace
                self.note(args[0], DELETE, _fd(args[2]))
                self.note(args[1], MOVED, _fd(args[3]))
            elif event == "os.remove":
                self.note(args[0], DELETE, _fd(args[1]))
            elif event == "shutil.copyfile":
                self.note(args[0], READ)
                self.note(args[1], WRITE)
            elif event == "os.link":
                self.note(args[1], MOVED, _fd(args[3]))
            else:  # os.truncate
                self.note(args[0], WRITE)
        except Exception:  # an audit hook must never break the script
            pass

    def flush(self) -> None:
        # Another thread may note paths meanwhile: take the range, and the lists, first.
        seen, start, end = self.seen, self.written, len(self.seen)
        grown, self.grown = self.grown, []
        params, self.params = self.params, []
        self.written, self.check_at[0] = end, end + 1
        self.flushed_at = self.clock()
        paths = list(islice(seen, start, end))
        modes = list(islice(seen.values(), start, end))
        if end >= _FORGET_AT:  # the report keeps them: forget them here, so memory stays small
            seen.clear()
            self.written, self.check_at[0] = 0, 1
        for path in grown:
            if path in seen:
                paths.append(path)
                modes.append(seen[path])
        lines = [*self._batch(paths, modes), *params] if paths else params
        if lines:
            self.write("\n".join(lines) + "\n")

    @staticmethod
    def _batch(paths: "list[str]", modes: "list[int]") -> "list[str]":
        """`@ CWD`, `# CODES` (a character per path: its modes), and the paths, one a line."""
        text = "\n".join(paths)
        if text.count("\n") >= len(paths) or text[:1] == '"' or '\n"' in text:
            text = "\n".join(_quoted(path) for path in paths)
        try:
            cwd = os.getcwd()
        except OSError:
            cwd = ""  # the cwd was removed: what was relative to it is lost
        return [f"@\t{cwd}", f"#\t{bytes(modes).translate(_CODES).decode()}", text]

    def write(self, text: str) -> None:
        data = text.encode("utf-8", "surrogateescape")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass  # a full disk: the script's work comes first

    def flush_at_exit(self) -> None:
        """Flush, with the files of the modules imported (code, not data) marked."""
        self.flush()
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and path in self.seen:
                self.seen[path] |= IMPORTED
                self.grown.append(path)
            elif isinstance(path, str):
                self.seen[path] = IMPORTED
        self.flush()

    def note_params(self, values: "dict[str, Any]") -> None:
        """Parsed parameters; existing files among their values are noted as named."""
        import json

        plain = {}
        for key, value in values.items():
            value = _plain(value)
            if value is None:
                continue
            plain[str(key)] = value
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and item and os.path.isfile(item):
                    self.note(os.path.abspath(item), NAMED)
        if plain:
            self.params.append("=\t" + json.dumps(plain, default=str))
            self.flush()


def _fd(value: "int | None") -> "int | None":
    return None if value is None or value < 0 else value


def _quoted(path: str) -> str:
    """A path that holds a newline or starts with `"`, as a JSON string."""
    if "\n" not in path and path[:1] != '"':
        return path
    import json

    return json.dumps(path)


def _plain(value: "Any") -> "Any":
    """A parsed value as JSON: text, numbers, booleans, or a list of those; None to leave out."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_plain(v) for v in value]
        return [v for v in items if v is not None and not isinstance(v, list)]
    if isinstance(value, os.PathLike):
        return os.fsdecode(value)
    members = getattr(type(value), "__members__", None)  # an Enum choice: its value
    if members is not None and isinstance(getattr(value, "value", None), (str, int, float)):
        return value.value
    return None  # a function, a file object, a class …: not a parameter's value


def _excluded_prefixes(script_dir: str) -> "tuple[str, ...]":
    """The interpreter's own files: its prefixes (unless the script lies in one), the standard
    library, site-packages, and the kernel's /proc, /sys and /dev."""
    here = (script_dir + "/", os.getcwd() + "/")
    prefixes = {sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix}
    dirs = [p for p in prefixes if not any(h.startswith(p.rstrip("/") + "/") for h in here)]
    site = sys.modules.get("site")
    if site is not None:
        dirs += getattr(site, "getsitepackages", list)()
        dirs.append(site.getusersitepackages())
    dirs += [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    dirs += [os.path.dirname(os.__file__), "/proc", "/sys", "/dev"]
    return tuple({d.rstrip("/") + "/" for d in dirs if d})


def _flush_then_die(report: _Report) -> "Callable[[int, Any], None]":
    import _signal  # type: ignore[import-not-found]  # `signal` imports enum: 5 ms more

    def handler(signum: int, _frame: "Any") -> None:
        scripting = sys.modules.get("bathos.scripting")  # metric points `bth.log` holds
        if scripting is not None:
            scripting.flush_points()
        report.flush_at_exit()
        _signal.signal(signum, _signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    for name in ("SIGTERM", "SIGHUP", "SIGUSR1", "SIGUSR2"):
        signum = getattr(_signal, name)
        if _signal.getsignal(signum) == _signal.SIG_DFL:
            _signal.signal(signum, handler)
    return handler


class _PatchOnImport:
    """A finder that lets a module load as usual, then records what its parser parsed. It only
    acts on the import the script does: nothing is imported for it."""

    def __init__(self, report: _Report) -> None:
        self.report = report
        self.patches = {"argparse": self.patch_argparse, "click.core": self.patch_click,
                        "typer._click.core": self.patch_click}  # Typer >= 0.24 has its own
        for name, patch in self.patches.items():
            if name in sys.modules:  # imported before the script ran (a sitecustomize)
                patch(sys.modules[name])

    def find_spec(self, name: str, path: "Any" = None, target: "Any" = None) -> "Any":
        patch = self.patches.get(name)
        if patch is None:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if finder is not self and find else None
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None or isinstance(loader, type):
            return spec  # a loader shared by many modules is left alone

        def exec_and_patch(module: "Any") -> None:
            exec_module(module)
            try:  # noqa: SIM105  (contextlib would cost this import more)
                patch(module)
            except Exception:  # a version it does not know: its parameters go unrecorded
                pass

        loader.exec_module = exec_and_patch
        return spec

    def patch_argparse(self, argparse: "Any") -> None:
        import functools

        parse = argparse.ArgumentParser.parse_known_args
        report = self.report

        @functools.wraps(parse)
        def parse_known_args(*args: "Any", **kwargs: "Any") -> "Any":
            namespace, extras = parse(*args, **kwargs)
            report.note_params(vars(namespace))
            return namespace, extras

        argparse.ArgumentParser.parse_known_args = parse_known_args

    def patch_click(self, core: "Any") -> None:
        import functools

        make_context = core.Command.make_context
        report = self.report

        @functools.wraps(make_context)
        def patched(*args: "Any", **kwargs: "Any") -> "Any":
            ctx = make_context(*args, **kwargs)
            report.note_params(dict(ctx.params))
            return ctx

        core.Command.make_context = patched


def _main_module(script: str) -> "Any":
    """A fresh `__main__` for the script, with the attributes `python SCRIPT` gives it."""
    import builtins

    module = type(sys)("__main__")
    module.__file__ = script
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    loader: Any = sys.modules["__main__"].__loader__  # bootstrap.py's: a SourceFileLoader
    module.__loader__ = type(loader)("__main__", script)
    module.__spec__ = None
    module.__package__ = None
    module.__cached__ = None  # type: ignore[attr-defined]
    module.__annotations__ = {}
    return module


def _trim_frames(hook: "Any", files: "tuple[str, ...]") -> "Any":
    """`hook` showing tracebacks without the frames of `files`, as `python SCRIPT` shows them."""

    def excepthook(kind: "Any", value: "Any", tb: "Any") -> None:
        while tb is not None and tb.tb_frame.f_code.co_filename in files:
            tb = tb.tb_next
        hook(kind, value.with_traceback(tb) if isinstance(value, BaseException) else value, tb)

    return excepthook


def _observe(report_path: str, script_dir: str) -> "_Report | None":
    """The notes of this run, flushed at exit, at signals and in forked children; None when the
    report cannot be written (the script runs all the same)."""
    try:
        fd = os.open(report_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError:
        return None
    report = _Report(fd, _excluded_prefixes(script_dir))
    import atexit

    atexit.register(report.flush_at_exit)  # registered first: it runs after the script's own
    os.register_at_fork(before=report.flush,
                        after_in_child=lambda: setattr(report, "batch", 1))
    _flush_then_die(report)
    sys.meta_path.insert(0, _PatchOnImport(report))
    return report


def _compiled(source: bytes, script: str, cache: "str | None") -> "Any":
    """The script's code, from `cache` when this source was compiled before: the first
    `compile()` of a process costs 1 ms (it sets up the `ast` types); reading it back, 0.05 ms."""
    if cache is None:
        return compile(source, script, "exec", dont_inherit=True)
    import _imp
    import marshal

    tag = f"{sys.implementation.cache_tag}-O{sys.flags.optimize}\0{script}\0".encode(
        "utf-8", "surrogateescape")
    path = os.path.join(cache, f"{_imp.source_hash(0x62746873, tag + source).hex()}.code")
    try:
        with open(path, "rb") as fh:
            return marshal.loads(fh.read())
    except (OSError, ValueError, EOFError, TypeError):
        pass  # not compiled before, or unreadable: compile it
    code = compile(source, script, "exec", dont_inherit=True)
    try:
        os.makedirs(cache, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(marshal.dumps(code))
        os.replace(tmp, path)
    except OSError:
        pass  # an unwritable cache: compiled again next time
    return code


def _start(argv: "list[str]") -> "tuple[Any, Any, _Report | None]":
    """Take `REPORT [--path DIR]… [--code-cache DIR] SCRIPT ARGS…` off argv; the script's code,
    its `__main__`, and the report, with sys.argv and sys.path set as `python SCRIPT ARGS…`
    sets them."""
    report_path, args = argv[1], argv[2:]
    paths: list[str] = []
    cache = None
    while args[:1] in (["--path"], ["--code-cache"]):
        if args[0] == "--path":
            paths.append(args[1])
        else:
            cache = args[1]
        args = args[2:]
    script = args[0]
    try:
        with open(script, "rb") as fh:
            source = fh.read()
    except OSError as exc:
        sys.stderr.write(f"{sys.executable}: can't open file {script!r}: "
                         f"[Errno {exc.errno}] {exc.strerror}\n")
        sys.exit(2)
    if hasattr(sys, "orig_argv"):  # [python, options…, bootstrap, REPORT, --path DIR…, SCRIPT…]
        start = len(sys.orig_argv) - len(argv)
        del sys.orig_argv[start:start + len(argv) - len(args)]
    sys.argv[:] = args
    script_dir = os.path.dirname(os.path.realpath(script))
    at = 0 if getattr(sys.flags, "safe_path", False) else 1
    if at:
        sys.path.insert(0, script_dir)
    sys.path[at:at] = [p for p in paths if p != script_dir]
    report = _observe(report_path, script_dir) if hasattr(sys, "addaudithook") else None
    return _compiled(source, script, cache), _main_module(script), report


def run(bootstrap: str) -> None:
    """Run the script `bootstrap` was given, as its `__main__`."""
    try:
        code, module, report = _start(sys.argv)
        sys.modules["__main__"] = module
        if report is not None:
            sys.addaudithook(report.audit)
        exec(code, module.__dict__)
    except SystemExit:
        raise
    except BaseException:
        sys.excepthook = _trim_frames(sys.excepthook, (bootstrap, __file__))
        raise
