"""Run a Python script as `python SCRIPT ARGS…` would, telling bathos which files it touched.

    python bootstrap.py REPORT [--path DIR]… SCRIPT [ARGS…]

`bth run` starts tracked scripts through this file, in the project's own interpreter, which may
not have bathos installed: it uses the standard library only, runs on Python 3.8 and later, and
is run by path. The script sees what `python SCRIPT` gives it (`sys.argv`, `sys.path[0]`, its
`__main__` module, exit codes, tracebacks and signals); each `--path DIR` is put on `sys.path`
right after the script's directory.

An audit hook (`sys.addaudithook`) notes every file opened (`open`, `os.open`, `io.open_code`),
renamed, copied or removed, and when the script parses its command line with argparse or Click
(Typer), the parsed values. Notes are kept in memory, one per path, and appended to REPORT at
exit, at SIGTERM, SIGHUP, SIGUSR1 and SIGUSR2, every 0.25 s while new paths come, and at once in
a forked child. Each line is `MODES<TAB>PATH`, MODES letters of `rwdmpi` (read, written, deleted
or renamed away, moved here by a rename, named by a parsed parameter, imported as a module: at
exit), or `=<TAB>{json}` for parsed parameters. A path holding a newline or starting with `"`
is written as a JSON string.
"""

import sys

if not getattr(sys.flags, "safe_path", False):
    del sys.path[0]  # this file's directory, before anything is imported from it

import os  # loaded by every interpreter's start-up, so free

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

READ, WRITE, DELETE, MOVED, NAMED, IMPORTED = 1, 2, 4, 8, 16, 32
_LETTERS = tuple("".join(c for bit, c in zip((1, 2, 4, 8, 16, 32), "rwdmpi") if n & bit)
                 for n in range(64))
_IGNORED = 64  # a path under an excluded prefix: noted once, never reported
_WATCHED = frozenset(("open", "os.rename", "os.remove", "shutil.copyfile", "os.link",
                      "os.truncate"))
_FLUSH_EVERY_S = 0.25
_FLUSH_AT = 2048  # pending paths


class _Report:
    """The notes of one process, appended to the report file in batches."""

    def __init__(self, fd: int, excluded: "tuple[str, ...]") -> None:
        import time

        self.fd = fd
        self.excluded = excluded
        self.seen: dict[str, int] = {}
        self.pending: dict[str, None] = {}
        self.params: list[str] = []
        self.clock = time.monotonic
        self.flushed_at = -_FLUSH_EVERY_S  # the first note is written at once
        self.immediate = False  # in a forked child, which may end with os._exit

    def note(self, path: "Any", bit: int, dir_fd: "int | None" = None) -> None:
        if path.__class__ is not str:
            if isinstance(path, int):
                return  # an open file descriptor: its path was noted when it was opened
            path = os.fsdecode(path)
        if path[:1] != "/":
            path = _directory(dir_fd) + "/" + path
        old = self.seen.get(path, 0)
        if old | bit == old:
            return
        if not old and path.startswith(self.excluded):
            self.seen[path] = _IGNORED | 63
            return
        self.seen[path] = old | bit
        self.pending[path] = None
        if (self.immediate or len(self.pending) >= _FLUSH_AT
                or self.clock() - self.flushed_at > _FLUSH_EVERY_S):
            self.flush()

    def flush(self) -> None:
        lines = [_LETTERS[self.seen[p] & 63] + "\t" + _quoted(p) for p in self.pending]
        lines.extend(self.params)
        self.pending.clear()
        self.params.clear()
        self.flushed_at = self.clock()
        if not lines:
            return
        data = ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
        try:
            while data:
                data = data[os.write(self.fd, data):]
        except OSError:
            pass  # a full disk: the script's work comes first

    def flush_at_exit(self) -> None:
        """Flush, with the files seen that were modules imported (code, not data) marked."""
        for module in list(sys.modules.values()):
            path = getattr(module, "__file__", None)
            if isinstance(path, str) and self.seen.get(path, _IGNORED) < _IGNORED:
                self.seen[path] |= IMPORTED
                self.pending[path] = None
        self.flush()

    def audit(self, event: str, args: "tuple[Any, ...]") -> None:
        if event not in _WATCHED:
            return
        try:
            if event == "open":
                access = args[2] & 3  # O_RDONLY 0, O_WRONLY 1, O_RDWR 2
                self.note(args[0], READ if access == 0 else WRITE if access == 1
                          else READ | WRITE)
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


def _directory(dir_fd: "int | None") -> str:
    """The directory a relative path is relative to: the cwd, or the directory `dir_fd` holds."""
    if dir_fd is None:
        return os.getcwd()
    return os.readlink(f"/proc/self/fd/{dir_fd}")


def _quoted(path: str) -> str:
    if "\n" in path or path[:1] == '"':
        import json

        return json.dumps(path)
    return path


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
    module.__loader__ = type(__loader__)("__main__", script)  # type: ignore[name-defined]
    module.__spec__ = None
    module.__package__ = None
    module.__cached__ = None  # type: ignore[attr-defined]
    module.__annotations__ = {}
    return module


def _trim_own_frames(hook: "Any") -> "Any":
    """`hook` showing tracebacks without this file's frames, as `python SCRIPT` shows them."""

    def excepthook(kind: "Any", value: "Any", tb: "Any") -> None:
        while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
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
                        after_in_child=lambda: setattr(report, "immediate", True))
    _flush_then_die(report)
    sys.meta_path.insert(0, _PatchOnImport(report))
    return report


def main() -> None:
    report_path, args = sys.argv[1], sys.argv[2:]
    paths = []
    while args[:1] == ["--path"]:
        paths.append(args[1])
        args = args[2:]
    script = args[0]
    try:
        with open(script, "rb") as fh:
            source = fh.read()
    except OSError as exc:
        sys.stderr.write(f"{sys.executable}: can't open file {script!r}: "
                         f"[Errno {exc.errno}] {exc.strerror}\n")
        sys.exit(2)
    if hasattr(sys, "orig_argv"):  # [python, options…, this file, REPORT, --path DIR…, SCRIPT…]
        start = len(sys.orig_argv) - len(sys.argv)
        del sys.orig_argv[start:start + len(sys.argv) - len(args)]
    sys.argv[:] = args
    script_dir = os.path.dirname(os.path.realpath(script))
    at = 0 if getattr(sys.flags, "safe_path", False) else 1
    if at:
        sys.path.insert(0, script_dir)
    sys.path[at:at] = [p for p in paths if p != script_dir]
    report = _observe(report_path, script_dir) if hasattr(sys, "addaudithook") else None
    module = _main_module(script)
    code = compile(source, script, "exec", dont_inherit=True)
    sys.modules["__main__"] = module
    if report is not None:
        sys.addaudithook(report.audit)
    exec(code, module.__dict__)


if __name__ == "__main__":
    try:
        main()
    except SystemExit:
        raise
    except BaseException:
        sys.excepthook = _trim_own_frames(sys.excepthook)
        raise
