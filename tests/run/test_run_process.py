"""`bth run` as a process: exit codes, forwarded signals, a killed bth, the interpreter, secrets."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from project import Project
from records import make_run

from bathos import Catalog

# Prints "ready <pid>" once its handlers are set; a forwarded SIGINT/SIGTERM makes it exit 42.
WAITER = """\
import os, signal, sys, time

def stop(signum, frame):
    print(f"child got {signal.Signals(signum).name}", flush=True)
    sys.exit(42)

if "--handle" in sys.argv:
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
print(f"ready {os.getpid()}", flush=True)
for _ in range(600):
    time.sleep(0.1)
sys.exit(1)
"""


@pytest.fixture
def waiter(project: Project) -> Project:
    project.write("scripts/debug/wait.py", WAITER)
    project.commit("waiter")
    return project


def wait_ready(proc: subprocess.Popen[bytes]) -> int:
    """The child's pid, once it said it is ready (bth shows its stdout live)."""
    assert proc.stdout is not None and proc.stderr is not None
    line = proc.stdout.readline().decode()
    assert line.startswith("ready "), line + proc.stderr.read().decode()
    return int(line.split()[1])


def test_exit_code_of_the_script_is_bths(project: Project) -> None:
    project.write("scripts/experiments/exit3.py", "import sys\nsys.exit(3)\n")
    project.commit("exit3")

    failed = project.bth_run("scripts/experiments/exit3.py", expect=3)
    completed = project.bth_run("scripts/experiments/hello.py", expect=0)

    assert (failed.status, failed.exit_code, failed.signal) == ("failed", 3, None)
    assert (completed.status, completed.exit_code) == ("completed", 0)
    assert completed.ended_at is not None and completed.duration_s is not None


@pytest.mark.parametrize(("command", "code"), [(["false"], 1), (["sh", "-c", "exit 4"], 4),
                                               (["true"], 0)])
def test_command_mode(project: Project, command: list[str], code: int) -> None:
    run = project.bth_run("--", *command, expect=code)

    assert run.status == ("completed" if code == 0 else "failed")
    assert run.exit_code == code
    assert run.script == command[0]
    assert run.argv == tuple(command[1:])
    assert run.environment is not None and run.environment.python_executable is None


def test_a_program_outside_the_project_is_a_command_not_a_dependency(project: Project) -> None:
    run = project.bth_run("--", sys.executable, "-c", "print('hi')", expect=0)

    assert run.script == sys.executable
    assert run.git is not None and Path(run.git.repo_root) == project.root.resolve()
    assert [d.role for d in run.dependencies] == []


def test_a_project_shell_script_is_recorded_as_the_run_s_script(project: Project) -> None:
    tool = project.write("scripts/data/convert.sh", "#!/bin/sh\necho converted\n")
    tool.chmod(0o755)

    run = project.bth_run("--", "./scripts/data/convert.sh", expect=0)

    assert [(d.role, d.path) for d in run.dependencies] == [("script", "scripts/data/convert.sh")]
    assert run.script == "scripts/data/convert.sh"


def test_a_script_is_one_script_however_its_path_is_written(project: Project) -> None:
    tool = project.write("scripts/data/convert.sh", "#!/bin/sh\necho converted\n")
    tool.chmod(0o755)
    project.commit("tool")
    data = project.root / "scripts" / "data"
    runs = [project.bth_run("--", "./scripts/data/convert.sh").id,
            project.bth_run("--", "scripts/data/convert.sh").id,
            project.bth_run("--", str(tool)).id,
            project.bth_run("scripts/experiments/hello.py").id]
    from_data = project.bth("run", "--", "./convert.sh", cwd=data)
    runs.append(from_data.run_id)
    old = make_run(project="proj", script="./scripts/data/convert.sh")  # as recorded before
    Catalog().write(old)

    def found(script: str, cwd: Path = project.root) -> set[str]:
        done = project.bth("find", "--script", script, "--json", cwd=cwd)
        assert done.returncode == 0, done.stderr
        return {r["id"] for r in json.loads(done.stdout)}

    shell = {Catalog().resolve(r) for r in (*runs[:3], runs[4])} | {old.id}
    assert {Catalog().get(r).script for r in shell - {old.id}} == {"scripts/data/convert.sh"}
    for script in ("./scripts/data/convert.sh", "scripts/data/convert.sh", str(tool),
                   "scripts/data/../data/convert.sh", "convert.sh", "./scripts/*/convert.sh"):
        assert found(script) == shell, script
    assert found("./convert.sh", cwd=data) == shell
    assert found("./scripts/experiments/hello.py") == {runs[3]}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_signal_is_forwarded_and_the_run_is_interrupted(waiter: Project,
                                                        sig: signal.Signals) -> None:
    proc = waiter.popen("run", "scripts/debug/wait.py", "--", "--handle")
    wait_ready(proc)

    proc.send_signal(sig)
    done = waiter.wait(proc)

    assert done.returncode == 42
    assert f"child got {sig.name}" in done.stdout
    run = done.run()
    assert (run.status, run.signal, run.exit_code) == ("interrupted", sig.name, 42)


def test_unhandled_sigterm_kills_the_child_and_bth_exits_128_plus(waiter: Project) -> None:
    proc = waiter.popen("run", "scripts/debug/wait.py")
    wait_ready(proc)

    proc.send_signal(signal.SIGTERM)
    done = waiter.wait(proc)

    assert done.returncode == 128 + signal.SIGTERM
    run = done.run()
    assert (run.status, run.signal, run.exit_code) == ("interrupted", "SIGTERM", None)


def test_child_killed_by_a_signal_of_its_own_fails(project: Project) -> None:
    project.write("scripts/debug/die.py",
                  "import os, signal\nprint('dying', flush=True)\n"
                  "os.kill(os.getpid(), signal.SIGKILL)\n")
    project.commit("die")

    run = project.bth_run("scripts/debug/die.py", expect=137)

    assert (run.status, run.signal, run.exit_code) == ("failed", "SIGKILL", None)
    assert project.bth("logs", run.id).stdout == "dying\n"


def test_sigkill_of_bth_leaves_a_running_record_read_as_lost(waiter: Project,
                                                             bth_home: Path) -> None:
    proc = waiter.popen("run", "scripts/debug/wait.py")
    child = wait_ready(proc)
    try:
        proc.kill()
        done = waiter.wait(proc)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)

    assert done.returncode == -signal.SIGKILL
    run = done.run()
    fragment = bth_home / "catalog" / "runs" / "proj" / f"{run.id}.json"
    assert json.loads(fragment.read_text())["status"] == "running"
    assert run.status == "lost"
    assert run.ended_at is None


def test_stdout_and_stderr_are_shown_live_and_kept(project: Project) -> None:
    project.write("scripts/debug/talk.py",
                  "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\n")
    project.commit("talk")

    done = project.bth("run", "scripts/debug/talk.py")

    assert done.returncode == 0
    assert done.stdout == "to stdout\n"
    assert "to stderr\n" in done.stderr
    assert project.bth("logs", done.run_id).stdout == "to stdout\n"
    assert project.bth("logs", done.run_id, "--stderr").stdout == "to stderr\n"
    logs = done.run().logs
    assert logs is not None and (logs.stdout_bytes, logs.stderr_bytes) == (10, 10)


def wrapper(path: Path, marker: str) -> Path:
    """An interpreter: a shell script that says it ran and execs this test's Python."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'#!/bin/sh\necho "{marker}" >&2\nexec "{sys.executable}" "$@"\n')
    path.chmod(0o755)
    return path


def test_python_flag_is_used_and_recorded(project: Project, tmp_path: Path) -> None:
    python = wrapper(tmp_path / "bin" / "mypython", "via --python")

    done = project.bth("run", "--python", str(python), "scripts/experiments/hello.py")

    assert done.returncode == 0, done.stderr
    assert "via --python" in done.stderr
    env = done.run().environment
    assert env is not None and env.python_executable == str(python)
    assert env.python_version == ".".join(map(str, sys.version_info[:3]))


def test_project_python_wins_over_virtual_env(project: Project, tmp_path: Path) -> None:
    python = wrapper(project.root / "tools" / "py.sh", "via .bth.toml")
    venv = tmp_path / "venv"
    wrapper(venv / "bin" / "python", "via VIRTUAL_ENV")
    config = project.root / ".bth.toml"
    config.write_text(config.read_text() + '\n[run]\npython = "tools/py.sh"\n')

    done = project.bth("run", "scripts/experiments/hello.py", env={"VIRTUAL_ENV": str(venv)})

    assert done.returncode == 0, done.stderr
    assert "via .bth.toml" in done.stderr and "via VIRTUAL_ENV" not in done.stderr
    env = done.run().environment
    assert env is not None and env.python_executable == str(python)


def test_virtual_env_is_used(project: Project, tmp_path: Path) -> None:
    python = wrapper(tmp_path / "venv" / "bin" / "python", "via VIRTUAL_ENV")

    done = project.bth("run", "scripts/experiments/hello.py",
                       env={"VIRTUAL_ENV": str(tmp_path / "venv")})

    assert done.returncode == 0, done.stderr
    assert "via VIRTUAL_ENV" in done.stderr
    env = done.run().environment
    assert env is not None and env.python_executable == str(python)


SECRETS = {
    "BTH_API_TOKEN": "supersecretvalue123",
    "SLURM_JOB_PASSWORD": "slurmpasswordvalue456",
    "MY_SECRET_KEY": "mysecretkeyvalue789",
}


def test_secret_values_never_reach_the_catalog(project: Project, bth_home: Path) -> None:
    config = project.root / ".bth.toml"
    config.write_text(config.read_text() + '\n[run]\nenv = ["MY_SECRET_KEY"]\n')
    project.commit("keep MY_SECRET_KEY")
    env = {**SECRETS, "SLURM_JOB_ID": "77"}

    first = project.bth_run("scripts/experiments/hello.py", env=env)
    project.bth_run("scripts/experiments/hello.py", env=env)
    compacted = project.bth("compact")
    assert compacted.returncode == 0, compacted.stderr

    assert first.environment is not None
    variables = first.environment.variables
    assert {k: variables[k] for k in SECRETS} == dict.fromkeys(SECRETS, "<redacted>")
    assert variables["SLURM_JOB_ID"] == "77"
    files = [p for p in bth_home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in SECRETS.values():
            assert secret.encode() not in data, f"{secret} in {path}"
    records = [row[0] for row in Catalog().sql("SELECT record::VARCHAR FROM runs").tuples()]
    assert len(records) == 2 and all("<redacted>" in r for r in records)
    assert not any(secret in r for r in records for secret in SECRETS.values())
