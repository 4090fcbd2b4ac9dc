"""What a tracked script calls: `@experiment`, `log`, `output_dir`, `current_run_id`.

Run directly (`python train.py …`) a decorated function records its own run through the same code
as `bth run`; under `bth run` (BTH_RUN_ID set) it adds its name, tags, parameters and returned
results to that run instead of recording a second one.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import json
import logging
import math
import numbers
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

logger = logging.getLogger("bathos.scripting")

P = ParamSpec("P")
R = TypeVar("R")


def current_run_id() -> str | None:
    """The id of the run this process belongs to, or None outside a tracked run."""
    return os.environ.get("BTH_RUN_ID")


def output_dir() -> Path:
    """The run's own output directory (`$BTH_OUTPUT_DIR`); `./outputs` outside a tracked run."""
    path = Path(os.environ.get("BTH_OUTPUT_DIR") or Path.cwd() / "outputs")
    path.mkdir(parents=True, exist_ok=True)
    return path


def log(step: int | None = None, **values: Any) -> None:
    """Record metrics of the current run: `bth.log(loss=0.12, accuracy=0.93)`, or in a loop
    `bth.log(step=i, loss=loss)`.

    Each number is a point of the run's metric history (key, step, value, wall time), and the
    last value of each key is also a result. Without `step`, a point's step is one more than its
    key's previous step (0 for the first). Values that are not numbers (text, lists, dicts) are
    results only. Points are buffered and written every few seconds and at exit, so a call costs
    microseconds (`benchmarks/bench_log.py`)."""
    if step is not None and type(step) is not int and (isinstance(step, bool) or not isinstance(
            step, numbers.Integral)):
        raise TypeError(f"bth.log step must be an integer, not {step!r}")
    points = {k: v for k, v in values.items() if _is_number(v)}
    if "time" in points:
        _warn_once("bth.log(time=...): 'time' is the wall time of a point, so it is kept as a "
                   "result only (name the metric, e.g., time_s)")
        del points["time"]
    if points:
        _POINTS.add(None if step is None else int(step), points)
    if len(points) == len(values):
        return
    path = os.environ.get("BTH_RESULTS_PATH")
    if not path:
        _warn_once(f"bth.log({', '.join(values)}) outside a tracked run: not recorded")
        return
    from bathos.runner import RESULTS_EVENT, append_event

    append_event(path, {RESULTS_EVENT: "log",
                        "values": {k: v for k, v in values.items() if k not in points}})


_NOT_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def _number_text(value: Any) -> str:
    """A number as JSON text (as Python's json writes NaN and infinities)."""
    if type(value) is int:
        return int.__repr__(value)
    text = float.__repr__(float(value))
    return _NOT_FINITE.get(text, text) if text[-1] in "nf" else text


def _is_number(value: Any) -> bool:
    kind = type(value)
    if kind is float or kind is int:
        return True
    return isinstance(value, numbers.Real) and kind is not bool


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        logger.warning("%s", message)


class _Points:
    """The points `log` buffers in this process, written to `$BTH_METRICS_PATH` as JSON lines
    (one line a call) in one write each time: the first at once (a script that logs once writes
    it before anything can go wrong), then every FLUSH_S seconds or FLUSH_LINES calls, at exit
    and at SIGTERM (under `bth run`), before a fork (so a child never writes its parent's points
    again) and before a directly run experiment's run ends. A multiprocessing child writes each
    call at once: a pool's workers end by SIGTERM or `os._exit`, past every exit hook."""

    FLUSH_S = 2.0
    FLUSH_LINES = 2_000
    registered = False  # the exit and fork hooks, once per process (a fork inherits them)

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lock = threading.Lock()
        self.path: str | None = None
        self.flushed_at = -math.inf
        self.hooked = False
        self.eager = False
        self.names: dict[str, str] = {}  # each metric's name as JSON text

    def _name(self, name: str) -> str:
        self.names[name] = text = json.dumps(name)
        return text

    def add(self, step: int | None, points: dict[str, Any]) -> None:
        now = time.time()
        if not self.hooked:
            self._hook()
        if self.path is None:
            return
        names = self.names
        values = "".join([f",{names.get(k) or self._name(k)}:{_number_text(v)}"
                          for k, v in points.items()])
        line = (f'{{"time":{now:.3f}{values}}}' if step is None
                else f'{{"step":{step},"time":{now:.3f}{values}}}')
        with self.lock:
            self.lines.append(line)
            due = self.eager or len(self.lines) >= self.FLUSH_LINES
        if due or now - self.flushed_at >= self.FLUSH_S:  # wall time: a jump only flushes early
            self.flush()

    def _hook(self) -> None:
        """On this process's first point: where points go, and the flushes at exit and fork."""
        self.hooked = True
        self.path = os.environ.get("BTH_METRICS_PATH")
        if self.path is None:
            _warn_once("bth.log(...) outside a tracked run: metrics not recorded")
            return
        multiprocessing = sys.modules.get("multiprocessing")
        self.eager = self.eager or (multiprocessing is not None
                                    and multiprocessing.parent_process() is not None)
        if not _Points.registered:
            _Points.registered = True
            atexit.register(self.flush)
            os.register_at_fork(before=self.flush, after_in_child=self._forked)

    def _forked(self) -> None:
        self.lines = []  # flushed before the fork; the parent's, in any case
        self.lock = threading.Lock()
        self.eager = True

    def flush(self) -> None:
        with self.lock:
            lines, self.lines = self.lines, []
        self.flushed_at = time.time()
        if not lines or self.path is None:
            return
        from bathos.fsutil import append_whole

        try:
            append_whole(self.path, ("\n".join(lines) + "\n").encode("utf-8", "backslashreplace"))
        except OSError as exc:
            logger.warning("%d metric point line(s) not recorded: cannot write %s: %s",
                           len(lines), self.path, exc.strerror or exc)

    def end_run(self) -> None:
        """Write what is buffered, and forget where to: the next point finds its run anew."""
        self.flush()
        self.hooked = False
        self.path = None
        self.flushed_at = -math.inf


_POINTS = _Points()


def flush_points() -> None:
    """Write the points `log` holds now (the bootstrap calls it at SIGTERM)."""
    _POINTS.flush()


def _event(kind: str, **fields: Any) -> None:
    from bathos.runner import RESULTS_EVENT, append_event

    append_event(os.environ["BTH_RESULTS_PATH"], {RESULTS_EVENT: kind, **fields})


class _Terminated(BaseException):
    """SIGTERM during a directly run experiment, so its run ends `interrupted`, not `lost`."""


@contextlib.contextmanager
def _terminate_as_exception() -> Iterator[None]:
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(_signum: int, _frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _params(fn: Callable[..., Any], args: Sequence[Any],
            kwargs: Mapping[str, Any]) -> dict[str, str]:
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
    except TypeError:
        return {}
    bound.apply_defaults()
    return {k: str(v) for k, v in bound.arguments.items()}


def _run_directly(fn: Callable[P, R], name: str, tags: tuple[str, ...], params: dict[str, str],
                  args: Any, kwargs: Any) -> R:
    from bathos.runner import RunSpec, start_run

    script = sys.argv[0] if sys.argv and os.path.isfile(sys.argv[0]) else None
    spec = RunSpec(target=script or sys.executable, is_script=script is not None,
                   args=tuple(sys.argv[1:]), name=name, tags=tags, params=params,
                   python=sys.executable)
    from bathos.errors import SidecarRefused

    try:
        active = start_run(spec)
    except SidecarRefused as exc:  # no bth command runs this script to say it: say it as bth run
        sys.stderr.write(f"bth: {exc}" + (f" ({exc.hint})" if exc.hint else "") + "\n")
        raise SystemExit(2) from None
    active.begin()
    saved = {k: os.environ.get(k) for k in active.child_env}
    os.environ.update(active.child_env)
    _POINTS.end_run()  # the points logged from here on are this run's

    def finish(**outcome: Any) -> None:
        _POINTS.end_run()
        active.finish(**outcome)

    try:
        with _terminate_as_exception():
            result = fn(*args, **kwargs)
    except (KeyboardInterrupt, _Terminated) as exc:
        sig = "SIGINT" if isinstance(exc, KeyboardInterrupt) else "SIGTERM"
        finish(status="interrupted", exit_code=None, signal_name=sig)
        if isinstance(exc, _Terminated):
            raise SystemExit(128 + signal.SIGTERM) from None
        raise
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finish(status="completed" if code == 0 else "failed", exit_code=code)
        raise
    except BaseException as exc:
        finish(status="failed", exit_code=1, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    finish(status="completed", exit_code=0,
           results=dict(result) if isinstance(result, Mapping) else None)
    return result


def experiment(name: str | None = None, tags: Sequence[str] = ()) -> Callable[[Callable[P, R]],
                                                                            Callable[P, R]]:
    """Track every call of a function (a plain function or a Typer command) as a run.

        @bth.experiment(name="benchmark_tip3p", tags=["tip3p", "nvt"])
        def main(n_steps: int = 1000) -> dict[str, float]:
            ...
            return {"energy": -41.2}          # stored as the run's results

    The wrapper keeps the function's signature, so Typer sees the real parameters.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        run_name = name or fn.__name__

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            params = _params(fn, args, kwargs)
            if not os.environ.get("BTH_RUN_ID"):
                return _run_directly(fn, run_name, tuple(tags), params, args, kwargs)
            _event("meta", name=run_name, tags=list(tags), params=params)
            try:
                result = fn(*args, **kwargs)
            except Exception as exc:
                _event("error", error=f"{type(exc).__name__}: {exc}")
                raise
            if isinstance(result, Mapping):
                _event("log", values=dict(result))
            return result

        return wrapper

    return decorate
