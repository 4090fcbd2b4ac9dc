"""What a tracked script calls: `@experiment`, `log`, `output_dir`, `current_run_id`.

Run directly (`python train.py …`) a decorated function records its own run through the same code
as `bth run`; under `bth run` (BTH_RUN_ID set) it adds its name, tags, parameters and returned
results to that run instead of recording a second one.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
import signal
import sys
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


def log(**values: Any) -> None:
    """Record results (metrics) of the current run: `bth.log(loss=0.12, accuracy=0.93)`."""
    path = os.environ.get("BTH_RESULTS_PATH")
    if not path:
        logger.warning("bth.log(%s) outside a tracked run: not recorded", ", ".join(values))
        return
    from bathos.runner import RESULTS_EVENT, append_event

    append_event(path, {RESULTS_EVENT: "log", "values": values})


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
    active = start_run(spec)
    active.begin()
    saved = {k: os.environ.get(k) for k in active.child_env}
    os.environ.update(active.child_env)
    try:
        with _terminate_as_exception():
            result = fn(*args, **kwargs)
    except (KeyboardInterrupt, _Terminated) as exc:
        sig = "SIGINT" if isinstance(exc, KeyboardInterrupt) else "SIGTERM"
        active.finish(status="interrupted", exit_code=None, signal_name=sig)
        if isinstance(exc, _Terminated):
            raise SystemExit(128 + signal.SIGTERM) from None
        raise
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        active.finish(status="completed" if code == 0 else "failed", exit_code=code)
        raise
    except BaseException as exc:
        active.finish(status="failed", exit_code=1, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    active.finish(status="completed", exit_code=0,
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
