"""Developer sessions: `nox -s tests`, `nox -s lint`, `nox -s typecheck`, `nox -s bench`."""

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", "bathos", "bathos_cli", "bth.py", "tests", "benchmarks",
                "noxfile.py", "docs")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".", "mypy")
    session.run("mypy", "--strict", "bathos", "bathos_cli")


@nox.session
def bench(session: nox.Session) -> None:
    session.install("-e", ".")
    session.run("python", "benchmarks/bench_catalog.py", *session.posargs)
    session.run("python", "benchmarks/bench_run.py")
    session.run("python", "benchmarks/bench_memory.py")
    session.run("python", "benchmarks/bench_sync.py")  # as root (it starts sshd), else skipped
